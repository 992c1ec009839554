"""The seven judge passes per eval pair (docs/metrics.md) and their prediction rows.

Per pair: `original` and `swapped` greedily (T = 0; swapped = the two response texts
exchanged; with `eval.probabilities` each of these two rows also carries the verdict
distribution read at its reply's verdict tag, as the judge saw that order:
evaluation/probabilities.py), then `sample_0..4` at the sampling temperature in the original
order — one request with n = 5, seeded per pair, so a pair's samples do not depend on which
other pairs are evaluated with it. A prompt that does not fit the model's context is not
truncated: its runs are recorded with verdict null and `finish_reason` "too_long", and
counted. The generation itself, its seeds and its too-long rule are the judge's own
(evaluation/generation.py).
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from bias_judge.core.vocabulary import ORDERS, RUNS, SAMPLE_RUNS, VERDICTS
from bias_judge.data.prompt import build_messages, parse_verdict
from bias_judge.evaluation.generation import (TOO_LONG, Request, distributions, generate_all,
                                              pair_seed)
from bias_judge.evaluation.inference.base import derive_seed
from bias_judge.evaluation.settings import EvalSettings


@dataclass
class PassReport:
    rows: list[dict]
    pairs: int = 0
    prompts_too_long: int = 0          # prompts (original or swapped) over the context
    pairs_with_skips: list[str] = field(default_factory=list)
    cut_at_length: int = 0             # generations ended by max_new_tokens / the context
    parse_failures: int = 0
    generated_tokens: int = 0

    def summary(self) -> dict:
        return {"pairs": self.pairs, "predictions": len(self.rows),
                "skipped_too_long": self.prompts_too_long,
                "pairs_with_skipped_prompts": len(self.pairs_with_skips),
                "cut_at_length": self.cut_at_length, "parse_failures": self.parse_failures,
                "generated_tokens": self.generated_tokens}


def select_pairs(pairs: Sequence[dict], max_pairs: int | None, seed: int) -> list[dict]:
    """A deterministic subset of at most `max_pairs`, in input order: each eval slice keeps
    its share (largest remainders; every slice at least one pair when the cap allows), and
    within a slice the pairs come in seeded-hash order, so the pick does not depend on file
    order and growing the cap only adds pairs."""
    if max_pairs is None or max_pairs >= len(pairs):
        return list(pairs)
    by_slice: dict[str, list[dict]] = defaultdict(list)
    for p in pairs:
        by_slice[p.get("eval_slice", "")].append(p)
    names = sorted(by_slice)
    total = len(pairs)
    exact = {s: max_pairs * len(by_slice[s]) / total for s in names}
    quota = {s: min(len(by_slice[s]), math.floor(exact[s])) for s in names}
    if max_pairs >= len(names):
        for s in names:
            quota[s] = max(quota[s], 1)
    order = sorted(names, key=lambda s: (-(exact[s] - math.floor(exact[s])), s))
    i = 0
    while sum(quota.values()) < max_pairs and i < 10 * len(order) + max_pairs:
        s = order[i % len(order)]
        if quota[s] < len(by_slice[s]):
            quota[s] += 1
        i += 1
    while sum(quota.values()) > max_pairs:  # the at-least-one floor overshot: trim the largest
        s = max(names, key=lambda s: (quota[s], s))
        quota[s] -= 1
    keep = set()
    for s in names:
        ranked = sorted(by_slice[s], key=lambda p: derive_seed("eval-subset", seed, p["pair_id"]))
        keep.update(p["pair_id"] for p in ranked[:quota[s]])
    return [p for p in pairs if p["pair_id"] in keep]


def _settings(engine, temperature: float, seed: int | None, max_new_tokens: int,
              guided: bool) -> dict:
    return {"engine": engine.name, "temperature": temperature, "seed": seed,
            "max_new_tokens": max_new_tokens, "dtype": engine.dtype, "guided": guided}


def _row(pair_id, checkpoint, run, out, settings) -> dict:
    if out is None:
        return {"pair_id": pair_id, "checkpoint": checkpoint, "run": run, "verdict": None,
                "raw_output": "", "finish_reason": TOO_LONG, "num_tokens": 0,
                "settings": settings}
    _, verdict = parse_verdict(out.text)
    return {"pair_id": pair_id, "checkpoint": checkpoint, "run": run, "verdict": verdict,
            "raw_output": out.text, "finish_reason": out.finish_reason,
            "num_tokens": out.num_tokens, "settings": settings}


def run_passes(engine, pairs: Sequence[dict], *, checkpoint: str, settings: EvalSettings,
               prompt_style: str, desc: str) -> PassReport:
    """Generate the seven runs for every pair; rows come back in pair order, runs in
    RUNS order (through the one judging loop, evaluation/generation.py)."""
    limit = engine.max_model_len
    prompts: dict[tuple[str, str], list[dict]] = {}
    for pair in pairs:
        for order in ORDERS:
            prompts[pair["pair_id"], order] = build_messages(pair, swapped=order == "swapped",
                                                             style=prompt_style)
    by_id = {pair["pair_id"]: pair for pair in pairs}
    greedy = [Request(key, conv) for key, conv in prompts.items()]
    samples = [Request((pid, "samples"), prompts[pid, "original"],
                       temperature=settings.sample_temperature, n=len(SAMPLE_RUNS),
                       seed=pair_seed(settings.seed, by_id[pid])) for pid in by_id]
    replies = generate_all(engine, greedy + samples, max_new_tokens=settings.max_new_tokens,
                           guided=settings.guided, batch_size=settings.batch_size, desc=desc)
    fits = {key: replies[key] is not None for key in prompts}
    outputs: dict[tuple[str, str], object] = {}
    for key in prompts:
        if replies[key] is not None:
            outputs[key] = replies[key][0]
    for pid in by_id:
        for run, out in zip(SAMPLE_RUNS, replies[pid, "samples"] or ()):
            outputs[pid, run] = out
    found = distributions(engine, [(key, prompts[key], outputs[key].text)
                                   for key in prompts if key in outputs],
                          batch_size=settings.batch_size) if settings.probabilities else {}

    report = PassReport(rows=[], pairs=len(pairs))
    report.prompts_too_long = sum(1 for ok in fits.values() if not ok)
    for pair in pairs:
        pid = pair["pair_id"]
        if not (fits[pid, "original"] and fits[pid, "swapped"]):
            report.pairs_with_skips.append(pid)
        for run in RUNS:
            if run == "original" or run == "swapped":
                cfg = _settings(engine, 0.0, None, settings.max_new_tokens, settings.guided)
            else:
                cfg = _settings(engine, settings.sample_temperature,
                                pair_seed(settings.seed, pair), settings.max_new_tokens,
                                settings.guided)
            out = outputs.get((pid, run))
            row = _row(pid, checkpoint, run, out, cfg)
            if settings.probabilities and run in ORDERS:
                got = found.get((pid, run))
                row["probabilities"] = None if got is None else {
                    **{v: round(got[0][v], 8) for v in VERDICTS}, "mass": round(got[1], 8)}
            report.rows.append(row)
            if row["verdict"] is None:
                report.parse_failures += 1
            if out is not None:
                report.generated_tokens += out.num_tokens
                report.cut_at_length += out.finish_reason == "length"
    if report.prompts_too_long:
        print(f"warning: {desc}: {report.prompts_too_long} prompt(s) in "
              f"{len(report.pairs_with_skips)} pair(s) exceed max_model_len {limit}; their "
              "runs are recorded as parse failures with finish_reason 'too_long' (first: "
              f"{report.pairs_with_skips[0]})", file=sys.stderr)
    return report
