"""Eval sets and judge predictions: loading and the checks that make metrics meaningful.

An eval set is either the split's own `eval.jsonl` (rule gold in `gold_verdict`) or an
external human-labelled file in the published holdout format (`human_verdict`); both carry
the pair fields, `pair_category` and `eval_slice`. A predictions file holds seven runs per
eval pair (docs/metrics.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import iter_jsonl, unique_rows
from bias_judge.core.schema import first_error, validator_for
from bias_judge.core.vocabulary import BUCKETS, IN_DIST, RUNS, VERDICTS, ood_slice

GOLD_FIELDS = ("gold_verdict", "human_verdict")
_SLICE = re.compile(rf"^({IN_DIST}|{ood_slice('')}[a-z_]+)$")


def gold_of(pair: dict) -> str:
    """The reference verdict: the split's rule gold, else a human label."""
    for field in GOLD_FIELDS:
        if pair.get(field) is not None:
            return pair[field]
    raise KeyError("pair has no gold verdict")


def _check_eval_row(row: dict, file: str, line: int) -> None:
    def fail(message: str, field: str | None = None):
        raise InputError(message, file=file, line=line, field=field)

    bucket = row.get("pair_category")
    if bucket is not None and bucket not in BUCKETS:
        fail(f"unknown bucket {bucket!r} (expected one of {', '.join(BUCKETS)})", "pair_category")
    eval_slice = row.get("eval_slice")
    if eval_slice is None:
        fail("missing: every eval pair needs a slice (in_dist or ood_<category>)", "eval_slice")
    if not isinstance(eval_slice, str) or not _SLICE.match(eval_slice):
        fail(f"unknown slice {eval_slice!r} (expected in_dist or ood_<category>)", "eval_slice")
    gold_field = next((f for f in GOLD_FIELDS if row.get(f) is not None), None)
    if gold_field is None:
        fail("no gold verdict (neither gold_verdict nor human_verdict)")
    if row[gold_field] not in VERDICTS:
        fail(f"gold verdict {row[gold_field]!r} is not one of A, B, TIE", gold_field)
    err = first_error(validator_for("pair"), row)
    if err is not None:
        fail(err[1], err[0])


def _checked_rows(path, file: str):
    for line, row in iter_jsonl(path):
        _check_eval_row(row, file, line)
        yield line, row


def load_eval_set(path: str | os.PathLike) -> list[dict]:
    """The eval pairs in file order, each checked; an InputError names the first defect."""
    file = str(path)
    return [row for _, row in unique_rows(_checked_rows(path, file), "pair_id", file)]


def index_predictions(eval_rows: list[dict], predictions: Iterable[dict], *,
                      file: str | None = None,
                      lines: list[int] | None = None) -> dict[str, dict[str, str | None]]:
    """{pair_id: {run: verdict}} after checking that every eval pair has exactly its seven
    runs and nothing else is there. `lines` (parallel to `predictions`) locates errors."""
    known = {row["pair_id"] for row in eval_rows}
    table: dict[str, dict[str, str | None]] = {pid: {} for pid in known}
    for i, pred in enumerate(predictions):
        line = lines[i] if lines is not None else None
        pid, run = pred.get("pair_id"), pred.get("run")
        if pid not in known:
            raise InputError(f"pair_id {pid!r} is not in the eval set", file=file, line=line,
                             field="pair_id")
        if run not in RUNS:
            raise InputError(f"unknown run {run!r} (expected one of {', '.join(RUNS)})",
                             file=file, line=line, field="run")
        verdict = pred.get("verdict")
        if verdict is not None and verdict not in VERDICTS:
            raise InputError(f"verdict {verdict!r} is not A, B, TIE or null", file=file,
                             line=line, field="verdict")
        if run in table[pid]:
            raise InputError(f"duplicate run {run} for pair {pid}", file=file, line=line,
                             field="run")
        table[pid][run] = verdict
    incomplete = [row["pair_id"] for row in eval_rows if len(table[row["pair_id"]]) < len(RUNS)]
    if incomplete:
        first = incomplete[0]
        missing = [r for r in RUNS if r not in table[first]]
        raise InputError(f"missing runs for {len(incomplete)} eval pair(s); pair {first} lacks "
                         f"{', '.join(missing)} (every pair needs {', '.join(RUNS)})", file=file)
    return table


def load_predictions(path: str | os.PathLike, eval_rows: list[dict]) -> list[dict]:
    """The prediction rows of `path`, schema-checked and complete for `eval_rows`."""
    numbered = list(iter_jsonl(path, schema="predictions"))
    rows = [row for _, row in numbered]
    index_predictions(eval_rows, rows, file=str(path), lines=[line for line, _ in numbered])
    return rows
