"""Stage `enrich`: candidates + items -> chosen letter, bias class and facts (docs/data-formats.md#candidates).

    bias-judge enrich --candidates data/candidates.jsonl --items data/sample.jsonl --out data/enriched.jsonl

Reads no params.
"""

from __future__ import annotations

import click

from bias_judge.data.classify import enrich_file
from bias_judge.stages.common import OutputPath, emit, one_line_errors

PARAMS: dict[str, type] = {}


@click.command(help="Parse each candidate's chosen letter and classify it against the item.")
@click.option("--candidates", "candidates_path", required=True, type=click.Path(dir_okay=False),
              help="Candidates (candidate JSONL).")
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False),
              help="The items the candidates answer (bbq_item JSONL).")
@click.option("--out", required=True, type=OutputPath(dir_okay=False),
              help="Enriched candidates (JSONL); the sidecar X.meta.json is written beside it.")
@one_line_errors
def command(candidates_path: str, items_path: str, out: str) -> None:
    emit("enrich", enrich_file(candidates_path, items_path, out))
