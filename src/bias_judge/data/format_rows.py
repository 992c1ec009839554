"""Training rows from labelled pairs (docs/data-formats.md#prompt-and-rows): SFT prompt/completion rows and DPO
prompt/chosen/rejected rows, each pair in both response orders.

Order `swapped` exchanges the two response texts (answer choices keep their letters), maps
the verdict A<->B and exchanges the reasoning's "Response A"/"Response B" mentions, so the
judge cannot learn a position preference from the data.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import Field

from bias_judge.core import jsonio
from bias_judge.core.artifacts import Output, Sidecar, StageResult, checksums, count_by
from bias_judge.core.settings import Section, Seed, as_params, one_of

from bias_judge.core.errors import InputError
from bias_judge.core.vocabulary import ORDERS
from bias_judge.data.prompt import (PromptSettings, assert_no_thinking_switch, build_messages, format_target, swap_reasoning,
                     swap_verdict)
from bias_judge.data.rejected import FAILURE_MODES, make_rejected

REJECTED_MODES = ("mixed", "verdict_flip", "failure_modes")


Confidence = Annotated[int, Field(ge=1, le=5)]


class FormatSettings(Section):
    """params section `format`."""
    seed: Seed
    sft_min_confidence: Confidence = Field(description="labels below it give no SFT rows")
    dpo_min_confidence: Confidence = Field(description="labels below it give no DPO rows")
    dpo_rejected: one_of(REJECTED_MODES) = Field(description=(
        "the wrong answers of pairs without an imported one: the label's reasoning with the "
        "verdict flipped, failure-mode texts, or both interleaved"))
    max_length_ratio: float = Field(gt=0, description="median chosen/rejected token ratio allowed")


@dataclass
class Rows:
    sft: list[dict]
    dpo: list[dict]
    counts: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _oriented(reasoning: str, verdict: str, order: str, swapped_reasoning: str | None = None) -> str:
    """The target for one response order. A labeler that writes its own reasoning for the
    swapped order (`reasoning_swapped`) is taken at its word; otherwise the mentions swap."""
    if order == "swapped":
        reasoning = swapped_reasoning or swap_reasoning(reasoning)
        verdict = swap_verdict(verdict)
    return format_target(reasoning, verdict)


def target_for(pair: dict, order: str) -> str:
    """The label's target (reasoning and verdict) for one response order of a labelled pair."""
    return _oriented(pair["reasoning"], pair["verdict"], order, pair.get("reasoning_swapped"))


class _Prompts:
    """Each pair's two prompts, built and checked once for both the SFT and the DPO rows."""

    def __init__(self, style: str):
        self.style = style
        self._cache: dict[tuple[str, str], list[dict]] = {}

    def __call__(self, pair: dict, order: str) -> list[dict]:
        key = (pair["pair_id"], order)
        if key not in self._cache:
            messages = build_messages(pair, swapped=order == "swapped", style=self.style)
            # The system prompt is checked at import; the user message holds response texts.
            assert_no_thinking_switch(messages[1]["content"],
                                      f"pair {pair['pair_id']} ({order}) prompt")
            self._cache[key] = messages
        return [dict(m) for m in self._cache[key]]


def _checked_target(text: str, pair_id: str, order: str, part: str) -> list[dict]:
    assert_no_thinking_switch(text, f"pair {pair_id} ({order}) {part}")
    return [{"role": "assistant", "content": text}]


def sft_rows(labelled: list[dict], *, min_confidence: int, prompts: _Prompts) -> list[dict]:
    rows = []
    for pair in labelled:
        if pair["confidence"] < min_confidence:
            continue
        for order in ORDERS:
            verdict = pair["verdict"] if order == "original" else swap_verdict(pair["verdict"])
            rows.append({
                "prompt": prompts(pair, order),
                "completion": _checked_target(target_for(pair, order), pair["pair_id"], order,
                                              "completion"),
                "pair_id": pair["pair_id"],
                "order": order,
                "verdict": verdict,
                "pair_category": pair["pair_category"],
            })
    return rows


def _rejected_kind(mode: str, index: int) -> str:
    """Deterministic alternation: `mixed` interleaves flips with the four failure modes
    (flip, hedging, flip, surface, flip, aligned, flip, burying, ...)."""
    if mode == "verdict_flip":
        return "verdict_flip"
    if mode == "failure_modes":
        return FAILURE_MODES[index % len(FAILURE_MODES)]
    return "verdict_flip" if index % 2 == 0 else FAILURE_MODES[(index // 2) % len(FAILURE_MODES)]


def dpo_rows(labelled: list[dict], *, min_confidence: int, rejected_mode: str,
             seed: int, prompts: _Prompts) -> list[dict]:
    if rejected_mode not in REJECTED_MODES:
        raise InputError(f"dpo_rejected must be one of {REJECTED_MODES}, got {rejected_mode!r}",
                         field="format.dpo_rejected")
    rows = []
    made = 0
    for pair in labelled:
        if pair["confidence"] < min_confidence or pair["verdict"] == "TIE":
            continue
        imported = pair.get("rejected")
        if imported and imported["verdict"] != pair["verdict"]:
            kind = "imported"
            rej_reasoning, rej_verdict = imported["reasoning"], imported["verdict"]
            rej_swapped = None
        else:
            kind = _rejected_kind(rejected_mode, made)
            made += 1
            rej_reasoning, rej_verdict = make_rejected(
                kind, pair=pair, verdict=pair["verdict"],
                reasoning=pair["reasoning"], seed=seed)
            # A flip keeps the chosen reasoning word for word, in either order.
            rej_swapped = pair.get("reasoning_swapped") if kind == "verdict_flip" else None
        for order in ORDERS:
            pid = pair["pair_id"]
            rows.append({
                "prompt": prompts(pair, order),
                "chosen": _checked_target(target_for(pair, order), pid, order, "chosen"),
                "rejected": _checked_target(_oriented(rej_reasoning, rej_verdict, order, rej_swapped),
                                            pid, order, "rejected"),
                "pair_id": pid,
                "order": order,
                "rejected_kind": kind,
                "pair_category": pair["pair_category"],
            })
    return rows


def length_ratio(dpo: list[dict]) -> float | None:
    """Median whitespace-token count of chosen over that of rejected; None without rows."""
    if not dpo:
        return None
    chosen = statistics.median(len(r["chosen"][0]["content"].split()) for r in dpo)
    rejected = statistics.median(len(r["rejected"][0]["content"].split()) for r in dpo)
    return chosen / rejected


def build_rows(labelled: list[dict], *, seed: int, sft_min_confidence: int,
               dpo_min_confidence: int, dpo_rejected: str, max_length_ratio: float,
               prompt_style: str) -> Rows:
    """SFT and DPO rows, sorted by pair_id then order. Fails (InputError) when a prompt or
    target holds a thinking switch, or when chosen answers are longer than rejected ones by
    more than `max_length_ratio` (median tokens), which would let length decide."""
    ordered = sorted(labelled, key=lambda p: p["pair_id"])
    prompts = _Prompts(prompt_style)
    sft = sft_rows(ordered, min_confidence=sft_min_confidence, prompts=prompts)
    dpo = dpo_rows(ordered, min_confidence=dpo_min_confidence, rejected_mode=dpo_rejected,
                   seed=seed, prompts=prompts)
    ratio = length_ratio(dpo)
    if ratio is not None and ratio > max_length_ratio:
        raise InputError(f"median chosen/rejected length ratio {ratio:.3f} exceeds "
                         f"max_length_ratio {max_length_ratio} (rejected answers too short: "
                         "the judge could learn that the shorter answer loses)",
                         field="format.max_length_ratio")
    counts = {
        "labelled_pairs": len(ordered),
        "sft_rows": len(sft),
        "sft_by_bucket": count_by(sft, "pair_category"),
        "sft_by_verdict": count_by(sft, "verdict"),
        "dpo_rows": len(dpo),
        "dpo_by_rejected_kind": count_by(dpo, "rejected_kind"),
        "dpo_by_bucket": count_by(dpo, "pair_category"),
        "length_ratio_chosen_over_rejected": None if ratio is None else round(ratio, 4),
    }
    warnings = []
    if not sft:
        warnings.append(f"no labelled pair reaches sft_min_confidence {sft_min_confidence}")
    if not dpo:
        warnings.append(f"no non-TIE labelled pair reaches dpo_min_confidence {dpo_min_confidence}")
    return Rows(sft=sft, dpo=dpo, counts=counts, warnings=warnings)


# What the format stage writes in its folder; nothing else there is touched.
FILES = {"sft": "sft.jsonl", "dpo": "dpo.jsonl", "meta": "rows.meta.json"}


def format_file(labels_path: str | os.PathLike, out_dir: str | os.PathLike, s: FormatSettings,
                prompt: PromptSettings) -> StageResult:
    """The format stage: labelled pairs -> DIR/sft.jsonl, DIR/dpo.jsonl, DIR/rows.meta.json."""
    labelled = jsonio.read_jsonl(labels_path, schema="labelled_pair")
    rows = build_rows(labelled, seed=s.seed, sft_min_confidence=s.sft_min_confidence,
                      dpo_min_confidence=s.dpo_min_confidence, dpo_rejected=s.dpo_rejected,
                      max_length_ratio=s.max_length_ratio, prompt_style=prompt.style)
    out = Path(out_dir)
    return StageResult(
        outputs=[Output(out / FILES["sft"], rows.sft, "sft_row", jsonl=True),
                 Output(out / FILES["dpo"], rows.dpo, "dpo_row", jsonl=True)],
        sidecars=[Sidecar(out / FILES["meta"], out.name, rows=len(rows.sft) + len(rows.dpo),
                          seed=s.seed, counts=rows.counts, inputs=checksums(labels_path),
                          params={**as_params(s), "prompt_style": prompt.style},
                          warnings=rows.warnings)],
        warnings=rows.warnings,
        summary=f"{len(rows.sft)} SFT rows, {len(rows.dpo)} DPO rows (length ratio "
                f"{rows.counts['length_ratio_chosen_over_rejected']}) -> {out}")
