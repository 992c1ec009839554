"""Stage `sample`: normalised items -> a stratified, seeded question sample (bbq_item).

    bias-judge sample --items data/bbq.jsonl --out data/sample.jsonl [--params params.yaml]

Params section `sample`: per_cell, seed; --per-cell / --seed override them for one run.
"""

from __future__ import annotations


from bias_judge.core.settings import replace as settings_replace

import click

from bias_judge.data.sampling import SampleSettings, sample_file
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"sample": SampleSettings}


@click.command(help="Draw a fixed number of items from every category × context × polarity cell.")
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False),
              help="Normalised items (output of `ingest`).")
@click.option("--out", required=True, type=OutputPath(dir_okay=False),
              help="The sample (JSONL); the sidecar X.meta.json is written beside it.")
@params_option
@click.option("--per-cell", type=click.IntRange(min=1), default=None,
              help="Items per cell; overrides params.yaml.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Sampling seed; overrides params.yaml.")
@one_line_errors
def command(items_path: str, out: str, params_path: str, per_cell: int | None,
            seed: int | None) -> None:
    s = read_settings(params_path, PARAMS)["sample"]
    overrides = {k: v for k, v in (("per_cell", per_cell), ("seed", seed)) if v is not None}
    emit("sample", sample_file(items_path, out, settings_replace(s, **overrides)))
