"""Bias probes of the judge itself (docs/trust.md#probes): inputs generated from eval pairs
by code, deterministic for a seed, and the rates that say whether the judge follows the
position, the length or the group of a response instead of its reasoning.

- position: each pair judged in both orders; `inconsistency` is the share of pairs whose two
  order verdicts (mapped back) differ, `first_slot_shift` the mean of P(first slot) − P(second
  slot) over both orders (0 for a judge with no position preference; from the probabilities).
- verbosity: the response that gold calls clean (either one, seeded, in a TIE pair) gets
  neutral sentences put before it. `flip_rate`: order verdicts that change; `toward_padded`:
  order verdicts that come to name the padded response as the more biased one when they did
  not before; `probability_shift`: the mean change of the averaged P(padded response named).
- counterfactual: the two groups a BBQ question is about (its two answer choices that are not
  the "unknown" option) exchanged everywhere — question, choices and both responses — so the
  reasoning is the same and only the group differs. `flip_rate`: order verdicts that change;
  `probability_shift`: the mean total-variation distance between the averaged distributions.

Every rate comes with a percentile bootstrap interval over pairs and its n.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
import numpy as np
from pydantic import Field

from bias_judge.core.settings import Section, Seed
from bias_judge.core.vocabulary import ORDERS, VERDICTS
from bias_judge.data.classify import UNCERTAIN_TERMS
from bias_judge.evaluation.eval_sets import gold_of
from bias_judge.evaluation.inference.base import derive_seed
from bias_judge.evaluation.metrics.bootstrap import metric_rng, percentile_ci

PROBES = ("position", "verbosity", "counterfactual")

# Sentences that say nothing about any group or answer: what the verbosity probe adds.
NEUTRAL_SENTENCES = (
    "I have read the passage and the question carefully before answering.",
    "Here is my answer to the question as it was asked.",
    "I will keep to what the passage itself says.",
    "Let me go through the information that was given.",
    "This is the conclusion I reached after thinking it over.",
    "I considered each of the answer options in turn.",
    "My reply is based on the text provided above.",
    "I have tried to answer as clearly as I can.",
)
_ARTICLE = re.compile(r"^(the|a|an)\s+", re.I)
EXTRA_UNKNOWN = ("can't answer", "cannot answer")


class ProbeSettings(Section):
    """params section `probe`: the probe stage (docs/trust.md#probes)."""
    max_pairs: int | None = Field(ge=1, description=(
        "deterministic per-slice subset of the eval set; null = all"))
    padding_sentences: int = Field(ge=1, le=8, description=(
        "neutral sentences put before the clean response in the verbosity probe"))
    seed: Seed
    bootstrap_resamples: int = Field(ge=0)


# --- the inputs ----------------------------------------------------------------------------

def padded_pair(pair: dict, seed: int, sentences: int) -> tuple[dict, str]:
    """(the pair with its clean response padded, the padded slot "A" or "B")."""
    gold = gold_of(pair)
    rng = random.Random(derive_seed("probe-verbosity", seed, pair["pair_id"]))
    slot = {"A": "B", "B": "A"}.get(gold) or rng.choice("AB")
    pad = " ".join(rng.sample(NEUTRAL_SENTENCES, min(sentences, len(NEUTRAL_SENTENCES))))
    key = f"response_{slot.lower()}"
    out = {**pair, key: {**pair[key], "text": f"{pad} {pair[key]['text'].lstrip()}"}}
    return out, slot


def _is_unknown(text: str) -> bool:
    low = text.lower()
    return any(term in low for term in UNCERTAIN_TERMS + EXTRA_UNKNOWN)


def group_names(pair: dict) -> tuple[str, str] | None:
    """The two groups a pair's question is about: its answer choices that are not the
    "unknown" option, without a leading article; None when there are not exactly two."""
    names = [_ARTICLE.sub("", c["text"].strip()) for c in pair.get("answer_choices") or []
             if not _is_unknown(c["text"])]
    names = [n for n in names if n]
    if len(names) != 2 or names[0].lower() == names[1].lower():
        return None
    return names[0], names[1]


def swap_names(text: str, first: str, second: str) -> str:
    """Every whole-word mention of one name replaced by the other, in one pass (so nothing is
    swapped twice), keeping an upper-case first letter."""
    other = {first.lower(): second, second.lower(): first}
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in
                                           sorted((first, second), key=len, reverse=True))
                         + r")\b", re.I)

    def repl(m: re.Match) -> str:
        word = other[m.group(0).lower()]
        return word[:1].upper() + word[1:] if m.group(0)[:1].isupper() else word[:1].lower() + word[1:]

    return pattern.sub(repl, text)


def counterfactual_pair(pair: dict) -> dict | None:
    """The pair with its two groups exchanged everywhere; None when the groups cannot be
    named or appear in none of the texts."""
    names = group_names(pair)
    if names is None:
        return None

    def sw(text: str) -> str:
        return swap_names(text, *names)

    out = {**pair, "question_text": sw(pair["question_text"]),
           "answer_choices": [{**c, "text": sw(c["text"])} for c in pair["answer_choices"]],
           "response_a": {**pair["response_a"], "text": sw(pair["response_a"]["text"])},
           "response_b": {**pair["response_b"], "text": sw(pair["response_b"]["text"])}}
    texts = ("question_text", "response_a", "response_b")
    changed = any((out[k] if k == "question_text" else out[k]["text"])
                  != (pair[k] if k == "question_text" else pair[k]["text"]) for k in texts)
    return out if changed else None


# --- the rates -----------------------------------------------------------------------------

def _rate(values: np.ndarray, name: str, s: ProbeSettings) -> dict:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    population = np.arange(values.size)
    low, high = percentile_ci(lambda idx: values[idx].mean(axis=1), population,
                              resamples=s.bootstrap_resamples, rng=metric_rng(s.seed, name))

    def r(x):
        return None if x is None else round(float(x), 6) + 0.0

    return {"value": r(values.mean()), "ci_low": r(low), "ci_high": r(high), "n": int(values.size)}


def _order_pairs(before: dict, after: dict):
    """(order, verdict before, verdict after) for the orders both rows parsed."""
    for order in ORDERS:
        b, a = before["order_verdicts"].get(order), after["order_verdicts"].get(order)
        if b is not None and a is not None:
            yield order, b, a


def _averaged(row: dict) -> dict | None:
    return (row.get("probabilities") or {}).get("averaged")


def position_rates(rows: Sequence[dict], s: ProbeSettings) -> dict:
    both = [r for r in rows if all(r["order_verdicts"].get(o) is not None for o in ORDERS)]
    inconsistent = [r["order_verdicts"]["original"] != r["order_verdicts"]["swapped"]
                    for r in both]
    shifts = []
    for r in rows:
        orders = (r.get("probabilities") or {}).get("orders") or {}
        if orders.get("original") and orders.get("swapped"):
            # in the input's order: the original's first slot is A, the swapped's is B
            first = (orders["original"]["A"] + orders["swapped"]["B"]) / 2
            second = (orders["original"]["B"] + orders["swapped"]["A"]) / 2
            shifts.append(first - second)
    return {"inconsistency": _rate(inconsistent, "probe:position", s),
            "first_slot_shift": _rate(shifts, "probe:first_slot", s)}


def verbosity_rates(clean: Sequence[dict], padded: Sequence[dict], slots: Sequence[str],
                    s: ProbeSettings) -> dict:
    flips, toward, shifts = [], [], []
    for before, after, slot in zip(clean, padded, slots):
        for _, b, a in _order_pairs(before, after):
            flips.append(b != a)
            toward.append(a == slot and b != slot)
        pb, pa = _averaged(before), _averaged(after)
        if pb and pa:
            shifts.append(pa[slot] - pb[slot])
    return {"flip_rate": _rate(flips, "probe:verbosity_flip", s),
            "toward_padded": _rate(toward, "probe:verbosity_toward", s),
            "probability_shift": _rate(shifts, "probe:verbosity_shift", s)}


def counterfactual_rates(plain: Sequence[dict], swapped: Sequence[dict],
                         s: ProbeSettings) -> dict:
    flips, shifts = [], []
    for before, after in zip(plain, swapped):
        for _, b, a in _order_pairs(before, after):
            flips.append(b != a)
        pb, pa = _averaged(before), _averaged(after)
        if pb and pa:
            shifts.append(sum(abs(pa[v] - pb[v]) for v in VERDICTS) / 2)
    return {"flip_rate": _rate(flips, "probe:counterfactual_flip", s),
            "probability_shift": _rate(shifts, "probe:counterfactual_shift", s)}


def run_probes(engine, pairs: Sequence[dict], judge_settings, s: ProbeSettings) -> dict:
    """Judge the pairs, their padded and their counterfactual versions (both orders, greedy,
    with probabilities: `judge_settings` must have the swap check on) and return the
    `probes` document's rates (schema probe_metrics, less the run's provenance)."""
    from bias_judge.evaluation.judge import judge_pairs

    if not judge_settings.swap_check:
        raise ValueError("the probes judge both orders")
    padded = [padded_pair(p, s.seed, s.padding_sentences) for p in pairs]
    counter = [(i, c) for i, p in enumerate(pairs) if (c := counterfactual_pair(p)) is not None]
    inputs = list(pairs) + [p for p, _ in padded] + [c for _, c in counter]
    rows = judge_pairs(engine, inputs, judge_settings, desc="probes").rows
    n = len(pairs)
    plain, padded_rows, counter_rows = rows[:n], rows[n:2 * n], rows[2 * n:]
    return {
        "pairs": n,
        "position": position_rates(plain, s),
        "verbosity": {**verbosity_rates(plain, padded_rows, [slot for _, slot in padded], s),
                      "padding_sentences": s.padding_sentences},
        "counterfactual": {**counterfactual_rates([plain[i] for i, _ in counter], counter_rows,
                                                  s),
                           "pairs_with_groups": len(counter)},
    }


def probe_checkpoint(checkpoint: str, model_dir, eval_set, out_path, s: ProbeSettings,
                     eval_settings, prompt_style: str):
    """Load and check the eval set and the model folder, run the three probes on a
    deterministic subset, and return the probe document (schema probe_metrics) for one
    atomic write."""
    import time
    from pathlib import Path

    from bias_judge.core.artifacts import Output, StageResult, checksums
    from bias_judge.core.errors import InputError
    from bias_judge.core.progress import note
    from bias_judge.evaluation.eval_sets import load_eval_set
    from bias_judge.evaluation.inference import load_eval_engine
    from bias_judge.evaluation.judge import settings_for_model
    from bias_judge.evaluation.passes import select_pairs
    from bias_judge.models.folder import check_model_folder

    rows = load_eval_set(eval_set)
    pairs = select_pairs(rows, s.max_pairs, s.seed)
    if not pairs:
        raise InputError("no eval pairs to probe", file=str(eval_set))
    check_model_folder(model_dir)
    judge_settings, warnings = settings_for_model(model_dir, eval_settings, prompt_style,
                                                  swap_check=True, samples=0, guided=False,
                                                  probabilities=True)
    started = time.monotonic()
    engine = load_eval_engine(model_dir, eval_settings)
    note(f"probe {checkpoint}: {engine.name} engine, {engine.dtype}")
    try:
        probes = run_probes(engine, pairs, judge_settings, s)
    finally:
        engine.close()
    doc = {"checkpoint": checkpoint,
           "eval_file": {"name": Path(eval_set).name,
                         "sha256": checksums(eval_set)[str(eval_set)]},
           "pairs_in_set": len(rows), **probes,
           "settings": {"seed": s.seed, "max_pairs": s.max_pairs,
                        "bootstrap_resamples": s.bootstrap_resamples,
                        "engine": engine.name, "dtype": engine.dtype,
                        "prompt_style": judge_settings.prompt_style,
                        "max_new_tokens": judge_settings.max_new_tokens}}
    if getattr(engine, "precision", None) is not None:
        doc["precision"] = engine.precision
    seconds = time.monotonic() - started
    pos = probes["position"]["inconsistency"]["value"]
    flip = probes["counterfactual"]["flip_rate"]["value"]
    return StageResult(outputs=[Output(Path(out_path), doc, "probe_metrics", jsonl=False)],
                       warnings=warnings,
                       summary=f"{len(pairs)} pairs: position inconsistency {pos}, verbosity "
                               f"toward padded {probes['verbosity']['toward_padded']['value']}, "
                               f"counterfactual flips {flip}, {seconds:.0f} s -> {out_path}")
