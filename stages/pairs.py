"""Stage `pairs`: enriched candidates -> judge pairs in five buckets (SPEC §4).

    bias-judge pairs --candidates data/enriched.jsonl --out data/pairs.jsonl [--params params.yaml]

params section `pairs`: source (build | import), import_file, seed, max_per_question,
quotas {adversarial, clear_bias_vs_clean, subtle_bias_vs_clean, tracked_bias_vs_alternate,
both_clean_tie}. With `source: import` the pairs are read from `import_file` (published
pairs.jsonl format) and passed through; --candidates is then not read.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.core import jsonio
from bias_judge.core.errors import InputError
from bias_judge.data.pairing import bucket_counts, build_pairs, sorted_unique_pairs
from bias_judge.stages.common import one_line_errors, params_option, stage_params

DEFAULTS = {
    "source": "build",
    "import_file": None,
    "seed": 42,
    "max_per_question": 4,
    "quotas": {"adversarial": 250, "clear_bias_vs_clean": 800, "subtle_bias_vs_clean": 550,
               "tracked_bias_vs_alternate": 220, "both_clean_tie": 550},
}


def _read_candidates(path: str) -> list[dict]:
    rows = jsonio.iter_jsonl(path, schema="enriched_candidate")
    return [row for _, row in jsonio.unique_rows(rows, "candidate_id", path)]


@click.command(help="Pair responses to the same question into the five judge-pair buckets.")
@click.option("--candidates", "candidates_path", required=True, type=click.Path(dir_okay=False),
              help="Enriched candidates (enriched_candidate JSONL); ignored with source: import.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Pairs (JSONL, sorted by pair_id); the sidecar X.meta.json is written beside it.")
@params_option
@one_line_errors
def command(candidates_path: str, out: str, params_path: str | None) -> None:
    params = stage_params(params_path, "pairs") or DEFAULTS
    warnings: list[str] = []
    if params["source"] == "import":
        source = params["import_file"]
        if not source:
            raise InputError("source is 'import' but import_file is not set",
                             file=params_path, field="pairs.import_file")
        rows = sorted_unique_pairs(jsonio.iter_jsonl(source, schema="pair"), source)
        counts = {"buckets": bucket_counts(rows)}
        inputs = {source: jsonio.sha256_file(source)}
        seed = None
    else:
        candidates = _read_candidates(candidates_path)
        rows, report = build_pairs(candidates, quotas=params["quotas"],
                                   max_per_question=params["max_per_question"],
                                   seed=params["seed"])
        warnings = report.warnings
        counts = {"buckets": report.counts, "available": report.available,
                  "questions": len({r["question_id"] for r in rows})}
        inputs = {candidates_path: jsonio.sha256_file(candidates_path)}
        seed = params["seed"]
    for w in warnings:
        click.echo(f"warning: pairs: {w}", err=True)
    jsonio.write_jsonl(out, rows, schema="pair")
    jsonio.write_meta(out, {
        "artifact": Path(out).name,
        "rows": len(rows),
        "seed": seed,
        "counts": counts,
        "inputs": inputs,
        "params": params,
        "warnings": warnings,
    })
    summary = ", ".join(f"{b} {n}" for b, n in counts["buckets"].items())
    click.echo(f"pairs: {len(rows)} pairs ({summary}) -> {out}", err=True)
