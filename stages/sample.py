"""Stage `sample`: normalised items -> a stratified, seeded question sample (bbq_item).

    bias-judge sample --items data/bbq.jsonl --out data/sample.jsonl --params params.yaml

Params section `sample`: per_cell, seed. Without --params (and without --per-cell/--seed)
the published-size default applies: 68 per cell (≈ 3,000 items on full BBQ), seed 42.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.core import jsonio
from bias_judge.data import sampling
from bias_judge.core.errors import InputError
from bias_judge.stages.common import one_line_errors, params_option, stage_params


def read_items(path: str) -> list[dict]:
    """Items file rows, each validated against the bbq_item schema."""
    rows = jsonio.iter_jsonl(path, schema="bbq_item")
    items = [row for _, row in jsonio.unique_rows(rows, "question_id", path)]
    if not items:
        raise InputError("no items", file=path)
    return items


@click.command(help="Draw a fixed number of items from every category × context × polarity cell.")
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False),
              help="Normalised items (output of `ingest`).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The sample (JSONL); the sidecar X.meta.json is written beside it.")
@params_option
@click.option("--per-cell", type=click.IntRange(min=1), default=None,
              help="Items per cell; overrides params.yaml.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Sampling seed; overrides params.yaml.")
@one_line_errors
def command(items_path: str, out: str, params_path: str | None, per_cell: int | None,
            seed: int | None) -> None:
    section = stage_params(params_path, "sample") or {}
    per_cell = per_cell if per_cell is not None else section.get("per_cell", sampling.DEFAULT_PER_CELL)
    seed = seed if seed is not None else section.get("seed", sampling.DEFAULT_SEED)
    items = read_items(items_path)
    selected, counts, warnings = sampling.stratified_sample(items, per_cell, seed)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    jsonio.write_jsonl(out, selected)  # rows were validated on reading
    jsonio.write_meta(out, {
        "artifact": Path(out).name,
        "rows": len(selected),
        "seed": seed,
        "counts": {"cells": counts},
        "inputs": {Path(items_path).name: jsonio.sha256_file(items_path)},
        "params": {"per_cell": per_cell, "seed": seed},
        "warnings": warnings,
    })
    click.echo(f"sample: {len(selected)} of {len(items)} items ({per_cell} per cell, seed {seed}) -> {out}",
               err=True)
