"""The ingest stage: a directory of BBQ-format files -> one normalised items file, with a
sidecar that records the files' checksums and what they are (the embedded items, upstream
BBQ at its pinned commit, or neither), which the cards quote as the data's source."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from pydantic import Field

from bias_judge.core.artifacts import Output, Sidecar, StageResult, beside
from bias_judge.core.settings import NonEmptyStr, Section
from bias_judge.data.bbq import cell_of, read_bbq_dir
from bias_judge.data.fetch_bbq import identify


class DataSettings(Section):
    """params section `data`. dvc.yaml passes `bbq_dir` to the ingest stage as --bbq-dir."""
    bbq_dir: NonEmptyStr = Field(description=(
        "the folder of upstream BBQ category files (the embedded copy by default)"))


def summary_counts(items: list[dict]) -> dict:
    """Counts for the sidecar: per category, per cell, and items without a target."""
    return {
        "categories": dict(sorted(Counter(it["category"] for it in items).items())),
        "cells": dict(sorted(Counter(cell_of(it) for it in items).items())),
        "target_label_null": sum(1 for it in items if it["target_label"] is None),
    }


def ingest(bbq_dir: str | os.PathLike, out: str | os.PathLike) -> StageResult:
    """Every BBQ file of `bbq_dir` -> one normalised items file and its sidecar."""
    items, inputs, warnings = read_bbq_dir(bbq_dir)
    counts = summary_counts(items)
    source = identify(bbq_dir, inputs)
    meta_path, name = beside(out)
    return StageResult(
        outputs=[Output(Path(out), items, "bbq_item", jsonl=True)],
        sidecars=[Sidecar(meta_path, name, rows=len(items), seed=None, counts=counts,
                          inputs=inputs, params=None, warnings=warnings, source=source)],
        warnings=warnings,
        summary=f"{len(items)} items in {len(counts['categories'])} categories "
                f"({source['kind']}) -> {out}")
