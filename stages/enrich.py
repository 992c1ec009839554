"""Stage `enrich`: candidates + items -> chosen letter, bias class and facts (SPEC §3).

    bias-judge enrich --candidates data/candidates.jsonl --items data/sample.jsonl --out data/enriched.jsonl
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.core import jsonio
from bias_judge.data.classify import enrich_rows
from bias_judge.data.generators import count_by
from bias_judge.stages.common import one_line_errors


@click.command(help="Parse each candidate's chosen letter and classify it against the item.")
@click.option("--candidates", "candidates_path", required=True, type=click.Path(dir_okay=False),
              help="Candidates (candidate JSONL).")
@click.option("--items", "items_path", required=True, type=click.Path(dir_okay=False),
              help="The items the candidates answer (bbq_item JSONL).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Enriched candidates (JSONL); the sidecar X.meta.json is written beside it.")
@one_line_errors
def command(candidates_path: str, items_path: str, out: str) -> None:
    items = {it["question_id"]: it for it in jsonio.read_jsonl(items_path, schema="bbq_item")}
    candidates = jsonio.iter_jsonl(candidates_path, schema="candidate")
    rows = list(enrich_rows(candidates, items, source=candidates_path))
    jsonio.write_jsonl(out, rows, schema="enriched_candidate")
    jsonio.write_meta(out, {
        "artifact": Path(out).name,
        "rows": len(rows),
        "seed": None,
        "counts": {
            "by_classification": count_by(rows, "classification"),
            "by_generator_classification": count_by(rows, "generator", "classification"),
            "hedged_biased": sum(r["hedged"] and r["classification"] == "biased" for r in rows),
        },
        "inputs": {candidates_path: jsonio.sha256_file(candidates_path),
                   items_path: jsonio.sha256_file(items_path)},
        "warnings": [],
    })
    click.echo(f"enrich: {len(rows)} candidates classified -> {out}", err=True)
