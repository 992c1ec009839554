"""Stratified, seeded question sample (docs/data-formats.md#items): a fixed count per
category × context condition × question polarity cell."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from pathlib import Path

from bias_judge.core import jsonio
from bias_judge.core.artifacts import Output, Sidecar, StageResult, beside
from pydantic import Field

from bias_judge.core.settings import Section, Seed, as_params
from bias_judge.data.bbq import CONDITIONS, POLARITIES, cell_of


class SampleSettings(Section):
    """params section `sample`."""
    per_cell: int = Field(ge=1, description="items per category x context condition x polarity cell")
    seed: Seed


def cells_for(items: list[dict]) -> list[str]:
    """Every cell of the categories present, including empty ones (a shortfall to report)."""
    categories = sorted({it["category"] for it in items})
    return [f"{c}/{cond}/{pol}" for c in categories for cond in CONDITIONS for pol in POLARITIES]


def stratified_sample(items: list[dict], per_cell: int, seed: int
                      ) -> tuple[list[dict], dict[str, int], list[str]]:
    """-> (selected items sorted by question_id, {cell: count taken}, shortfall warnings).

    One `random.Random(seed)` draws the cells in sorted order, each from its items sorted by
    question_id, so the selection depends only on the data, per_cell and seed."""
    if per_cell < 1:
        raise ValueError("per_cell must be at least 1")
    by_cell: dict[str, list[dict]] = defaultdict(list)
    for it in items:
        by_cell[cell_of(it)].append(it)
    rng = random.Random(seed)
    selected: list[dict] = []
    counts: dict[str, int] = {}
    warnings: list[str] = []
    for cell in cells_for(items):
        pool = sorted(by_cell.get(cell, []), key=lambda it: it["question_id"])
        if len(pool) <= per_cell:
            chosen = pool
            if len(pool) < per_cell:
                warnings.append(f"cell {cell}: only {len(pool)} items available, "
                                f"{per_cell} requested; took all {len(pool)}")
        else:
            chosen = rng.sample(pool, per_cell)
        counts[cell] = len(chosen)
        selected.extend(chosen)
    selected.sort(key=lambda it: it["question_id"])
    return selected, counts, warnings


def read_items(path: str | os.PathLike) -> list[dict]:
    """Items file rows, each validated against the bbq_item schema."""
    return jsonio.read_jsonl(path, schema="bbq_item")


def sample_file(items_path: str | os.PathLike, out: str | os.PathLike,
                s: SampleSettings) -> StageResult:
    """The sample stage: the items file -> the stratified sample and its sidecar."""
    items = read_items(items_path)
    selected, counts, warnings = stratified_sample(items, s.per_cell, s.seed)
    meta_path, name = beside(out)
    return StageResult(
        outputs=[Output(Path(out), selected, None, jsonl=True)],  # validated on reading
        sidecars=[Sidecar(meta_path, name, rows=len(selected), seed=s.seed,
                          counts={"cells": counts},
                          inputs={Path(items_path).name: jsonio.sha256_file(items_path)},
                          params=as_params(s), warnings=warnings)],
        warnings=warnings,
        summary=f"{len(selected)} of {len(items)} items ({s.per_cell} per cell, seed {s.seed}) "
                f"-> {out}")
