"""Stage `pairs`: enriched candidates -> judge pairs in five buckets (docs/data-formats.md#pairs).

    bias-judge pairs --candidates data/enriched.jsonl --out data/pairs.jsonl [--params params.yaml]

params section `pairs`: source (build | import), import_file, seed, max_per_question,
quotas {adversarial, clear_bias_vs_clean, subtle_bias_vs_clean, tracked_bias_vs_alternate,
both_clean_tie}. With `source: import` the pairs are read from `import_file` (published
pairs.jsonl format) and passed through; --candidates is then not read.
"""

from __future__ import annotations

import click

from bias_judge.data.pairing import PairsSettings, pairs_file
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"pairs": PairsSettings}


@click.command(help="Pair responses to the same question into the five judge-pair buckets.")
@click.option("--candidates", "candidates_path", required=True, type=click.Path(dir_okay=False),
              help="Enriched candidates (enriched_candidate JSONL); ignored with source: import.")
@click.option("--out", required=True, type=OutputPath(dir_okay=False),
              help="Pairs (JSONL, sorted by pair_id); the sidecar X.meta.json is written beside it.")
@params_option
@one_line_errors
def command(candidates_path: str, out: str, params_path: str) -> None:
    s = read_settings(params_path, PARAMS)["pairs"]
    emit("pairs", pairs_file(candidates_path, out, s))
