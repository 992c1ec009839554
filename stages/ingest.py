"""Stage `ingest`: a directory of upstream BBQ jsonl files -> normalised items (bbq_item).

    bias-judge ingest --bbq-dir DIR --out data/bbq.jsonl   (+ data/bbq.meta.json)

Reads no params: dvc.yaml passes `data.bbq_dir` as --bbq-dir.
"""

from __future__ import annotations

import click

from bias_judge.data.ingest import ingest
from bias_judge.stages.common import OutputPath, emit, one_line_errors

PARAMS: dict[str, type] = {}


@click.command(help="Normalise the BBQ category files in --bbq-dir into one items file.")
@click.option("--bbq-dir", required=True, type=click.Path(file_okay=False),
              help="Folder with the upstream BBQ files (Age.jsonl, ..., Sexual_orientation.jsonl).")
@click.option("--out", required=True, type=OutputPath(dir_okay=False),
              help="Normalised items (JSONL); the sidecar X.meta.json is written beside it.")
@one_line_errors
def command(bbq_dir: str, out: str) -> None:
    emit("ingest", ingest(bbq_dir, out))
