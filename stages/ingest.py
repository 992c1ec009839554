"""Stage `ingest`: a directory of upstream BBQ jsonl files -> normalised items (bbq_item).

    bias-judge ingest --bbq-dir DIR --out data/bbq.jsonl   (+ data/bbq.meta.json)
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.data import bbq
from bias_judge.core import jsonio
from bias_judge.stages.common import one_line_errors


@click.command(help="Normalise the BBQ category files in --bbq-dir into one items file.")
@click.option("--bbq-dir", required=True, type=click.Path(file_okay=False),
              help="Folder with the upstream BBQ files (Age.jsonl, ..., Sexual_orientation.jsonl).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Normalised items (JSONL); the sidecar X.meta.json is written beside it.")
@one_line_errors
def command(bbq_dir: str, out: str) -> None:
    items, inputs = bbq.read_bbq_dir(bbq_dir)
    jsonio.write_jsonl(out, items, schema="bbq_item")
    counts = bbq.summary_counts(items)
    jsonio.write_meta(out, {
        "artifact": Path(out).name,
        "rows": len(items),
        "seed": None,
        "counts": counts,
        "inputs": inputs,
        "warnings": [],
    })
    click.echo(f"ingest: {len(items)} items in {len(counts['categories'])} categories -> {out}",
               err=True)
