"""The import labeler: published teacher labels joined onto the pairs by pair_id, and
published wrong-verdict judge outputs attached as DPO `rejected` answers.

Label files (`labels_sample_*.jsonl`): pair_id, verdict, confidence, reasoning. Rejected file
(`dpo_synth_rejected.jsonl`): pair_id, reasoning, verdict (the wrong one), failure_mode.
"""

from __future__ import annotations

import os
from pathlib import Path

from bias_judge.core import jsonio
from bias_judge.core.errors import InputError
from bias_judge.core.vocabulary import VERDICTS

from bias_judge.data.labelers.base import LabelResult



def _need(obj: dict, key: str, path, line: int, check) -> object:
    if key not in obj:
        raise InputError(f"missing '{key}'", file=str(path), line=line, field=key)
    value = obj[key]
    if not check(value):
        raise InputError(f"bad value {value!r}", file=str(path), line=line, field=key)
    return value


def _is_text(v) -> bool:
    return isinstance(v, str) and v.strip() != ""


def read_label_file(path: str | os.PathLike) -> list[dict]:
    """Rows {pair_id, verdict, confidence, reasoning, source} of one published label file."""
    rows = []
    for line, obj in jsonio.iter_jsonl(path):
        rows.append({
            "pair_id": _need(obj, "pair_id", path, line, _is_text),
            "verdict": _need(obj, "verdict", path, line, lambda v: v in VERDICTS),
            "confidence": _need(obj, "confidence", path, line,
                                lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5),
            "reasoning": _need(obj, "reasoning", path, line, _is_text),
            "source": f"import:{Path(path).stem}",
        })
    return rows


def read_rejected_file(path: str | os.PathLike) -> list[dict]:
    """Rows {pair_id, reasoning, verdict, failure_mode} of a published rejected-answer file."""
    rows = []
    for line, obj in jsonio.iter_jsonl(path):
        row = {
            "pair_id": _need(obj, "pair_id", path, line, _is_text),
            "reasoning": _need(obj, "reasoning", path, line, _is_text),
            "verdict": _need(obj, "verdict", path, line, lambda v: v in VERDICTS),
        }
        if isinstance(obj.get("failure_mode"), str):
            row["failure_mode"] = obj["failure_mode"]
        rows.append(row)
    return rows


def label_pairs(pairs: list[dict], *, labels: list[dict]) -> LabelResult:
    """Join labels (from `read_label_file`, files in priority order) onto pairs by pair_id.

    Pairs without a label are dropped and counted; a pair labelled by several files keeps the
    first file's label (the others are counted as duplicates); labels for pairs not in the
    pool are counted as unmatched.
    """
    by_id: dict[str, dict] = {}
    duplicates = 0
    for label in labels:
        if label["pair_id"] in by_id:
            duplicates += 1
            continue
        by_id[label["pair_id"]] = label
    pool_ids = {p["pair_id"] for p in pairs}
    rows = []
    for pair in sorted(pairs, key=lambda p: p["pair_id"]):
        label = by_id.get(pair["pair_id"])
        if label is None:
            continue
        rows.append({**pair, "verdict": label["verdict"], "reasoning": label["reasoning"].strip(),
                     "confidence": label["confidence"], "label_source": label["source"]})
    counts = {
        "labelled": len(rows),
        "dropped_without_label": len(pairs) - len(rows),
        "duplicate_labels": duplicates,
        "labels_not_in_pool": sum(1 for pid in by_id if pid not in pool_ids),
    }
    warnings = []
    if counts["dropped_without_label"]:
        warnings.append(f"{counts['dropped_without_label']} pairs have no imported label and were dropped")
    return LabelResult(rows=rows, counts=counts, warnings=warnings)


def attach_rejected(rows: list[dict], rejected: list[dict]) -> dict:
    """Attach each pair's published wrong answer as `rejected` (in place). An answer whose
    verdict equals the pair's label is not wrong for this label and is skipped."""
    by_id: dict[str, dict] = {}
    for r in rejected:
        by_id.setdefault(r["pair_id"], r)
    attached = same_verdict = 0
    for row in rows:
        r = by_id.get(row["pair_id"])
        if r is None:
            continue
        if r["verdict"] == row["verdict"]:
            same_verdict += 1
            continue
        row["rejected"] = {k: (v.strip() if k == "reasoning" else v)
                           for k, v in r.items() if k != "pair_id"}
        attached += 1
    return {"rejected_attached": attached, "rejected_same_verdict_skipped": same_verdict}
