"""The trained judge applied to anyone's pairs (`bias-judge judge`, and any app that judges
one pair at a time).

    p = read_settings("params.yaml", {"eval": EvalSettings, "prompt": PromptSettings})
    settings = JudgeSettings.from_params(p["eval"], p["prompt"].style, swap_check=True, samples=0)
    engine = load_engine(model_dir, engine=p["eval"].engine, dtype=p["eval"].dtype,
                         max_model_len=p["eval"].max_model_len, seed=settings.seed,
                         base_url=p["eval"].base_url, **p["eval"].engine_options)
    row = judge_pair(engine, {"question_text": ..., "answer_choices": [...],
                              "response_a": {"text": ...}, "response_b": {"text": ...}}, settings)
    row["verdict"], row["reasoning"], row["consistent"]   # schema judge_output, less `line`

Each order is judged by one greedy reply, or with `samples` K by the majority of K replies at
the sampling temperature (no strict plurality: TIE). With the swap check, the pair is also
judged with the two responses exchanged, in the same engine batch, and that verdict is mapped
back: when the orders agree that is the verdict; when they disagree the verdict is TIE and
`consistent` is false — the position debiasing of FastChat/JudgeLM-style judges, reported in
every row, never hidden. A prompt longer than the context is not truncated: its runs are
recorded as `too_long` and its verdict comes from the other order, if any.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bias_judge.core.artifacts import Output, StageResult
from bias_judge.core.errors import InputError
from bias_judge.core.progress import note
from bias_judge.core.vocabulary import ORDERS, VERDICTS
from bias_judge.data.prompt import (build_messages, parse_verdict,
                                    swap_reasoning, swap_verdict)
from bias_judge.evaluation.generation import (TOO_LONG, Request, check_guided, distributions,
                                              generate_all, pair_identity, pair_seed)
from bias_judge.evaluation.inference.base import derive_seed
from bias_judge.evaluation.probabilities import needs_review, pair_record
from bias_judge.evaluation.settings import EvalSettings

UNPARSED = "unparsed"


@dataclass(frozen=True)
class JudgeSettings:
    """How pairs are judged. The command fills it from params.yaml (`prompt.style` and the
    `eval` section), the model folder's bias_judge.json and its options (`settings_for_model`)."""
    prompt_style: str            # the style the checkpoint was trained with (prompt.style)
    max_new_tokens: int
    sample_temperature: float    # used with samples > 0
    seed: int                    # each pair's sampling seeds derive from it and the pair
    swap_check: bool             # judge both orders; disagreement -> TIE, consistent false
    samples: int                 # 0: one greedy reply per order; K: majority of K samples
    guided: bool                 # hold replies to the judge format (vLLM structured outputs)
    batch_size: int              # conversations per engine call
    # Without the swap check: judge each pair in one order drawn from the seed and the pair
    # (`--order random`) instead of the order given (`--order original`).
    random_order: bool = False
    probabilities: bool = True   # verdict probabilities of the greedy replies (T = 0 only)
    abstain_below: float | None = None  # averaged confidence below it: needs_review

    @property
    def order_protocol(self) -> str:
        """One of ORDER_PROTOCOLS."""
        return "both" if self.swap_check else "random" if self.random_order else "original"

    @classmethod
    def from_params(cls, s: EvalSettings, prompt_style: str, *, swap_check: bool, samples: int,
                    guided: bool | None = None, max_new_tokens: int | None = None,
                    batch_size: int | None = None, random_order: bool = False,
                    probabilities: bool | None = None,
                    abstain_below: float | None = None) -> JudgeSettings:
        """From the `eval` section and `prompt.style`; None keeps the section's value."""
        return cls(prompt_style=prompt_style,
                   max_new_tokens=max_new_tokens or s.max_new_tokens,
                   sample_temperature=s.sample_temperature, seed=s.seed, swap_check=swap_check,
                   samples=samples, guided=s.guided if guided is None else guided,
                   batch_size=batch_size or s.batch_size, random_order=random_order,
                   probabilities=s.probabilities if probabilities is None else probabilities,
                   abstain_below=abstain_below)

    def __post_init__(self):
        if self.samples < 0:
            raise InputError(f"samples must be >= 0, got {self.samples}", field="samples")
        if self.samples and not self.sample_temperature > 0:
            raise InputError("samples need a sampling temperature above 0",
                             field="eval.sample_temperature")
        if self.abstain_below is not None and not 0.0 <= self.abstain_below <= 1.0:
            raise InputError(f"abstain_below is a probability, got {self.abstain_below}",
                             field="abstain_below")
        if self.abstain_below is not None and not (self.probabilities and self.samples == 0):
            raise InputError("abstaining needs the verdict probabilities of greedy replies "
                             "(probabilities on, samples 0)", field="abstain_below")


def settings_for_model(model_dir, s: EvalSettings, params_style: str, *, swap_check: bool,
                       samples: int, prompt_style: str | None = None,
                       max_new_tokens: int | None = None, guided: bool | None = None,
                       batch_size: int | None = None,
                       **choices) -> tuple[JudgeSettings, list[str]]:
    """JudgeSettings for querying `model_dir` and the warnings to print: as `from_params`,
    except that the prompt style and reply budget the folder's bias_judge.json records replace
    the params' values (an option given here is kept; models/judge_record.py)."""
    from bias_judge.models.judge_record import apply_record

    given = {"prompt_style": prompt_style, "max_new_tokens": max_new_tokens}
    values, warnings = apply_record(
        model_dir, {"prompt_style": prompt_style or params_style,
                    "max_new_tokens": max_new_tokens or s.max_new_tokens},
        explicit={k for k, v in given.items() if v is not None})
    settings = JudgeSettings.from_params(s, values["prompt_style"], swap_check=swap_check,
                                         samples=samples, guided=guided,
                                         max_new_tokens=values["max_new_tokens"],
                                         batch_size=batch_size, **choices)
    return settings, warnings


def random_order(seed: int, pair: dict) -> str:
    """`--order random`: the one order a pair is judged in, drawn from the run seed and the
    pair (its pair_id, else its text), so the same pair gets the same order in any file."""
    return ORDERS[derive_seed("judge-order", seed, pair_identity(pair)) % 2]


def pair_orders(s: JudgeSettings, pair: dict) -> tuple[str, ...]:
    if s.swap_check:
        return ORDERS
    return (random_order(s.seed, pair),) if s.random_order else ORDERS[:1]


def majority(verdicts: Sequence[str | None]) -> str | None:
    """The strict plurality of the parsed verdicts; TIE when two verdicts share the top count;
    None when nothing parsed."""
    counts = Counter(v for v in verdicts if v is not None).most_common()
    if not counts:
        return None
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return "TIE"
    return counts[0][0]


def combine(original: str | None, swapped: str | None,
            swap_check: bool) -> tuple[str | None, bool | None]:
    """(verdict, consistent) from each order's verdict, both in the input's order."""
    if not swap_check:
        return original, None
    if original is None or swapped is None:
        return (original if swapped is None else swapped), None
    if original == swapped:
        return original, True
    return "TIE", False


def _engine_settings(engine) -> dict:
    out = {"engine": engine.name, "dtype": engine.dtype,
           "model": None if getattr(engine, "model_dir", None) is None else str(engine.model_dir)}
    if getattr(engine, "base_url", None):
        out["base_url"], out["served_model"] = engine.base_url, engine.model
    return out


@dataclass
class JudgeReport:
    rows: list[dict]
    too_long: int = 0              # prompts (of either order) over the context
    parse_failures: int = 0        # generated replies without a verdict
    cut_at_length: int = 0
    generated_tokens: int = 0

    def summary(self) -> dict:
        verdicts = Counter(str(r["verdict"]) for r in self.rows)
        consistent = Counter(str(r["consistent"]).lower() for r in self.rows)
        return {"pairs": len(self.rows),
                "verdicts": {v: verdicts.get(v, 0) for v in (*VERDICTS, "None")},
                "consistent": {k: consistent.get(k, 0) for k in ("true", "false", "none")},
                "prompts_too_long": self.too_long, "parse_failures": self.parse_failures,
                "cut_at_length": self.cut_at_length, "generated_tokens": self.generated_tokens,
                "with_probabilities": sum(1 for r in self.rows
                                          if (r.get("probabilities") or {}).get("verdict")),
                "needs_review": sum(1 for r in self.rows if r.get("needs_review"))}


def judge_pairs(engine, pairs: Sequence[dict], s: JudgeSettings, *,
                desc: str = "judge") -> JudgeReport:
    """Judge every pair; rows come back in input order (schema judge_output, less `line`),
    through the one judging loop (evaluation/generation.py)."""
    sampled = s.samples > 0
    temperature = s.sample_temperature if sampled else 0.0
    n = s.samples if sampled else 1
    orders_of = [pair_orders(s, pair) for pair in pairs]
    prompts = {(i, order): build_messages(pair, swapped=order == "swapped", style=s.prompt_style)
               for i, pair in enumerate(pairs) for order in orders_of[i]}
    seeds = {key: pair_seed(s.seed, pairs[key[0]], key[1]) for key in prompts} if sampled else {}
    replies = generate_all(engine, [Request(key, conv, temperature, n, seeds.get(key))
                                    for key, conv in prompts.items()],
                           max_new_tokens=s.max_new_tokens, guided=s.guided,
                           batch_size=s.batch_size, desc=desc)
    skipped = {key for key, reply in replies.items() if reply is None}

    with_probabilities = s.probabilities and not sampled
    found = distributions(engine, [(key, prompts[key], reply[0].text)
                                   for key, reply in replies.items() if reply is not None],
                          batch_size=s.batch_size) if with_probabilities else {}
    report = JudgeReport(rows=[], too_long=len(skipped))
    base = {**_engine_settings(engine), "prompt_style": s.prompt_style,
            "swap_check": s.swap_check, "order_protocol": s.order_protocol, "samples": s.samples,
            "temperature": temperature, "seed": s.seed, "max_new_tokens": s.max_new_tokens,
            "guided": s.guided, "probabilities": with_probabilities}
    if s.abstain_below is not None:
        base["abstain_below"] = s.abstain_below
    for i, pair in enumerate(pairs):
        runs, order_verdicts, votes = [], {}, {}
        orders = orders_of[i]
        for order in orders:
            order_runs = _runs(order, replies[i, order], seeds.get((i, order)), sampled)
            runs += order_runs
            order_verdicts[order] = majority([r["verdict"] for r in order_runs]) \
                if (i, order) not in skipped else None
            if sampled:
                counted = Counter(r["verdict"] or UNPARSED for r in order_runs
                                  if r["finish_reason"] != TOO_LONG)
                votes[order] = {k: counted.get(k, 0) for k in (*VERDICTS, UNPARSED)}
            for r in order_runs:
                if r["finish_reason"] == TOO_LONG:
                    continue
                report.parse_failures += r["verdict"] is None
                report.cut_at_length += r["finish_reason"] == "length"
                report.generated_tokens += r["num_tokens"]
        if s.swap_check:
            verdict, consistent = combine(order_verdicts["original"], order_verdicts["swapped"],
                                          True)
        else:
            verdict, consistent = order_verdicts[orders[0]], None
        row = {"verdict": verdict, "reasoning": _reasoning(runs, verdict),
               "consistent": consistent, "order_verdicts": order_verdicts, "runs": runs,
               "settings": base}
        if sampled:
            row["votes"] = votes
        if with_probabilities:
            record = pair_record({o: found.get((i, o)) for o in orders})
            row["probabilities"] = record
            if s.abstain_below is not None:
                row["needs_review"] = needs_review(record, s.abstain_below)
        if pair.get("pair_id"):
            row["pair_id"] = pair["pair_id"]
        report.rows.append(row)
    return report


def _runs(order: str, outs, seed: int | None, sampled: bool) -> list[dict]:
    if outs is None:  # the prompt did not fit the context
        return [{"order": order, "sample": None, "seed": None, "raw_output": "",
                 "verdict_as_seen": None, "verdict": None, "finish_reason": TOO_LONG,
                 "num_tokens": 0}]
    runs = []
    for k, out in enumerate(outs):
        seen = parse_verdict(out.text)[1]
        mapped = swap_verdict(seen) if seen is not None and order == "swapped" else seen
        runs.append({"order": order, "sample": k if sampled else None,
                     "seed": seed if sampled else None, "raw_output": out.text,
                     "verdict_as_seen": seen, "verdict": mapped,
                     "finish_reason": out.finish_reason, "num_tokens": out.num_tokens})
    return runs


def _reasoning(runs: list[dict], verdict: str | None) -> str | None:
    """The explanation of the first reply (original order first) whose verdict is the final
    one, else of the first parsed reply; a swapped-order reply's Response A/B mentions are
    exchanged back so that they name the input's responses."""
    parsed = [r for r in runs if r["verdict"] is not None]
    pick = next((r for r in parsed if r["verdict"] == verdict), parsed[0] if parsed else None)
    if pick is None:
        return None
    text = parse_verdict(pick["raw_output"])[0]
    return swap_reasoning(text) if pick["order"] == "swapped" else text


def judge_pair(engine, pair: dict, s: JudgeSettings) -> dict:
    """One pair's row (an app's single request)."""
    from bias_judge.core.schema import first_error, validator_for

    err = first_error(validator_for("judge_input"), pair)
    if err is not None:
        raise InputError(err[1], field=err[0])
    return judge_pairs(engine, [pair], s, desc="judge").rows[0]


def choose_engine(s: EvalSettings, *, engine: str | None, base_url: str | None,
                  served_model: str | None = None, concurrency: int | None = None,
                  max_retries: int | None = None) -> tuple[str, str | None, dict]:
    """(engine, base_url, engine_options) from the `eval` section and a command's options
    (None keeps the section's value): --base-url implies the openai engine, and the
    server-only options are refused with an in-process engine."""
    if base_url is not None and engine not in (None, "openai"):
        raise InputError(f"--base-url sends requests to a server; --engine {engine} runs the "
                         "model here (leave one out)", field="engine")
    engine = engine or ("openai" if base_url else s.engine)
    if engine == "openai":
        base_url = base_url or s.base_url
    options = dict(s.engine_options)
    for key, value in (("concurrency", concurrency), ("max_retries", max_retries)):
        if value is not None:
            options[key] = value
    if served_model is not None:
        if engine != "openai":
            raise InputError("--served-model names a model on a server (--base-url)",
                             field="served_model")
        options["served_model"] = served_model
    return engine, base_url, options


def partial_path(out_path: str | os.PathLike) -> Path:
    """Where `--save-every` keeps the rows judged so far: beside OUT, hidden."""
    out = Path(out_path)
    return out.with_name(f".{out.name}.partial.jsonl")


def _fingerprint(pair: dict, settings: JudgeSettings, engine_settings: dict) -> str:
    from dataclasses import asdict

    content = json.dumps([pair, asdict(settings), engine_settings], sort_keys=True,
                         ensure_ascii=False)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _resumed(path: Path, wanted: dict[int, str]) -> dict[int, dict]:
    """{line: row} from a partial file, for the lines whose pair and settings are unchanged
    (a torn last line, from a run that was killed mid-write, is ignored)."""
    done: dict[int, dict] = {}
    if not path.is_file():
        return done
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(text)
        except ValueError:
            continue
        line = entry.get("line") if isinstance(entry, dict) else None
        if line in wanted and entry.get("fingerprint") == wanted[line]:
            done[line] = entry["row"]
    return done


def judge_file(pairs_path: str | os.PathLike, out_path: str | os.PathLike, *,
               model_dir: str | os.PathLike, engine: str, dtype: str, max_model_len: int,
               engine_options: dict, base_url: str | None, settings: JudgeSettings,
               save_every: int = 0) -> StageResult:
    """Read and check the pairs (schema judge_input) and the model folder before the engine
    starts; judge them; return the rows (schema judge_output) for one atomic write. With
    `save_every` N, the rows are also appended to a hidden partial file beside OUT every N
    pairs, and a re-run with the same pairs and settings skips the pairs found there (delete
    it with `remove_partial` once OUT is written)."""
    from bias_judge.core.jsonio import iter_jsonl
    from bias_judge.evaluation.inference import load_engine
    from bias_judge.models.folder import check_model_folder

    lines, pairs = [], []
    for line, pair in iter_jsonl(pairs_path, schema="judge_input"):
        lines.append(line)
        pairs.append(pair)
    if not pairs:
        raise InputError("no pairs to judge", file=str(pairs_path))
    partial = partial_path(out_path)
    if save_every and Path(out_path).exists() and not Path(out_path).is_file():
        raise InputError("--save-every keeps a partial file beside OUT, which is not a "
                         "regular file here", file=str(out_path), field="save_every")
    check_model_folder(model_dir)
    check_guided(settings.guided, engine, model_dir)
    started = time.monotonic()
    eng = load_engine(model_dir, engine=engine, dtype=dtype, max_model_len=max_model_len,
                      seed=settings.seed, base_url=base_url, batch_size=settings.batch_size,
                      **engine_options)
    loaded = time.monotonic() - started
    note(f"judge: {eng.name} engine ({getattr(eng, 'base_url', None) or eng.dtype}), "
         f"ready in {loaded:.0f} s")
    fingerprints = {line: _fingerprint(pair, settings, _engine_settings(eng))
                    for line, pair in zip(lines, pairs)} if save_every else {}
    done = _resumed(partial, fingerprints) if save_every else {}
    todo = [(line, pair) for line, pair in zip(lines, pairs) if line not in done]
    report = JudgeReport(rows=[])
    try:
        t0 = time.monotonic()
        step = save_every or len(todo) or 1
        for start in range(0, len(todo), step):
            chunk = todo[start:start + step]
            got = judge_pairs(eng, [pair for _, pair in chunk], settings)
            for field_ in ("too_long", "parse_failures", "cut_at_length", "generated_tokens"):
                setattr(report, field_, getattr(report, field_) + getattr(got, field_))
            new = dict(zip((line for line, _ in chunk), got.rows))
            done.update(new)
            if save_every:
                with open(partial, "a", encoding="utf-8") as fh:
                    for line, row in new.items():
                        fh.write(json.dumps({"line": line, "fingerprint": fingerprints[line],
                                             "row": row}, ensure_ascii=False) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
        seconds = time.monotonic() - t0
    finally:
        eng.close()
    rows = [{"line": line, **done[line]} for line in lines]
    report.rows = rows
    summary = report.summary()
    warnings = []
    if report.too_long:
        first = next(r["line"] for r in rows
                     if any(run["finish_reason"] == TOO_LONG for run in r["runs"]))
        warnings.append(f"{report.too_long} prompt(s) longer than max_model_len were not "
                        f"generated (first: line {first}); their verdict comes from the other "
                        "order, if any")
    resumed = len(pairs) - len(todo)
    rate = len(todo) / seconds if seconds > 0 else math.inf
    counts = ", ".join(f"{k} {v}" for k, v in summary["verdicts"].items() if v)
    checked = (f", {summary['consistent']['false']} inconsistent under the swap check"
               if settings.swap_check else "")
    return StageResult(
        outputs=[Output(Path(out_path), rows, "judge_output", jsonl=True)],
        warnings=warnings,
        summary=(f"{len(pairs)} pairs ({counts}){checked}, {summary['parse_failures']} "
                 f"unparsed replies, {seconds:.0f} s ({rate:.2f} pairs/s)"
                 + (f", {resumed} resumed from {partial.name}" if resumed else "")
                 + f" -> {out_path}"))


def remove_partial(out_path: str | os.PathLike) -> None:
    partial_path(out_path).unlink(missing_ok=True)


__all__ = ["JudgeReport", "JudgeSettings", "choose_engine", "combine", "judge_file",
           "judge_pair", "judge_pairs", "majority", "random_order", "settings_for_model"]
