"""Pluggable labelers: each turns training pairs into labelled pairs (verdict, reasoning,
confidence, label_source). Add one by writing a module with `label_pairs(pairs, **options)
-> LabelResult` and registering it here; `label_file` is the label stage."""

from __future__ import annotations

import importlib

from pydantic import Field
import os
from pathlib import Path

from bias_judge.core import jsonio
from bias_judge.core.artifacts import Output, Sidecar, StageResult, beside, checksums, count_by
from bias_judge.core.errors import InputError
from bias_judge.core.settings import NonEmptyStr, Section, as_params, one_of
from bias_judge.data.labelers.rule import REASONING_STYLES
from bias_judge.data.level_rule import BIASED_VS_UNCLEAR
from bias_judge.data.labelers.base import LabelResult

# name -> the module that labels
LABELERS: dict[str, str] = {
    "rule": "bias_judge.data.labelers.rule",
    "import": "bias_judge.data.labelers.imported",
}


class LabelSettings(Section):
    """params section `label`."""
    labeler: one_of(LABELERS)
    biased_vs_unclear: one_of(BIASED_VS_UNCLEAR) = Field(description=(
        "a stereotype-target answer against another wrong answer: TIE, or the biased one is "
        "the more biased (data/level_rule.py)"))
    reasoning: one_of(REASONING_STYLES) = Field(description=(
        "rule labeler: prose (sentences in varied order) or stepwise (context, then each "
        "response's pick and its class, in slot order)"))
    human_eval_sets: list[NonEmptyStr] = Field(description=(
        "human-labelled sets (published holdout format) for the gold-quality report"))
    frontier_sets: dict[str, NonEmptyStr] = Field(description=(
        "name -> a frontier model's verdicts on training pairs (the teacher's check)"))
    import_files: list[NonEmptyStr] = Field(description="labeler import: the label files")
    import_rejected: str | None = Field(description=(
        "published wrong answers (dpo_synth_rejected.jsonl) attached as DPO rejected answers"))


def run_labeler(name: str, pairs: list[dict], **options) -> LabelResult:
    if name not in LABELERS:
        raise InputError(f"unknown labeler {name!r} (known: {', '.join(sorted(LABELERS))})",
                         field="label.labeler")
    return importlib.import_module(LABELERS[name]).label_pairs(pairs, **options)


def _options(s: LabelSettings, inputs: dict) -> dict:
    """The chosen labeler's keyword arguments; imported label files join `inputs`."""
    if s.labeler == "rule":
        return {"biased_vs_unclear": s.biased_vs_unclear, "reasoning": s.reasoning}
    if not s.import_files:
        raise InputError("labeler 'import' needs at least one file in import_files",
                         field="label.import_files")
    from bias_judge.data.labelers.imported import read_label_file

    labels = []
    for path in s.import_files:
        labels.extend(read_label_file(path))
    inputs.update(checksums(*s.import_files))
    return {"labels": labels}


def _gold_report(s: LabelSettings, levels_from: str | os.PathLike | None, inputs: dict,
                 teacher: list[dict]) -> dict:
    from bias_judge.data.labelers.gold_quality import frontier_report, gold_quality_report

    sets = [(Path(path).stem, path, jsonio.read_jsonl(path, schema="pair"))
            for path in s.human_eval_sets]
    inputs.update(checksums(*s.human_eval_sets))
    pool = []
    if sets and levels_from:
        pool = jsonio.read_jsonl(levels_from, schema="pair")
        inputs.update(checksums(levels_from))
    report = gold_quality_report(sets, levels_pool=pool, biased_vs_unclear=s.biased_vs_unclear)
    frontier = [(name, path, jsonio.read_jsonl(path)) for name, path in sorted(s.frontier_sets.items())]
    inputs.update(checksums(*s.frontier_sets.values()))
    report["frontier"] = frontier_report(frontier, teacher)
    return report


def label_file(pairs_path: str | os.PathLike, out: str | os.PathLike,
               gold_report: str | os.PathLike | None, levels_from: str | os.PathLike | None,
               s: LabelSettings) -> StageResult:
    """The label stage: training pairs -> labelled pairs, plus (when `gold_report` is given)
    the rule teacher's agreement with the human-labelled sets."""
    pairs = jsonio.read_jsonl(pairs_path, schema="pair")
    inputs = checksums(pairs_path)
    result = run_labeler(s.labeler, pairs, **_options(s, inputs))
    counts = dict(result.counts)
    if s.import_rejected:
        from bias_judge.data.labelers.imported import attach_rejected, read_rejected_file

        counts.update(attach_rejected(result.rows, read_rejected_file(s.import_rejected)))
        inputs.update(checksums(s.import_rejected))
    counts.update(by_verdict=count_by(result.rows, "verdict"),
                  by_confidence=count_by(result.rows, "confidence"),
                  by_bucket=count_by(result.rows, "pair_category"),
                  by_label_source=count_by(result.rows, "label_source"))
    outputs = [Output(Path(out), result.rows, "labelled_pair", jsonl=True)]
    if gold_report:
        outputs.append(Output(Path(gold_report), _gold_report(s, levels_from, inputs, result.rows), None,
                              jsonl=False))
    meta_path, name = beside(out)
    return StageResult(
        outputs=outputs,
        sidecars=[Sidecar(meta_path, name, rows=len(result.rows), seed=None, counts=counts,
                          inputs=inputs, params=as_params(s), warnings=result.warnings)],
        warnings=result.warnings,
        summary=f"{len(result.rows)} pairs labelled ({s.labeler}) -> {out}")


__all__ = ["LABELERS", "LabelResult", "LabelSettings", "label_file", "run_labeler"]
