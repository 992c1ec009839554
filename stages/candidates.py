"""Stage `candidates`: sampled BBQ items -> candidate responses (schema `candidate`).

    bias-judge candidates --sample data/sample.jsonl --out data/candidates.jsonl [--params params.yaml]

params section `candidates`: generator (template | llm), seed, llm {models,
samples_per_question, temperature, max_new_tokens, engine, dtype, max_model_len, batch_size,
engine_options}. The llm options are used only with `generator: llm`; dvc.yaml lists
models/base as a dependency, other model folders are tracked by their path in params.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.core import jsonio
from bias_judge.data.generators import count_by, make_generator
from bias_judge.stages.common import one_line_errors, params_option, stage_params

DEFAULTS = {
    "generator": "template",
    "seed": 42,
    "llm": {"models": ["models/base"], "samples_per_question": 3, "temperature": 0.7,
            "max_new_tokens": 256, "engine": "auto", "dtype": "bfloat16", "max_model_len": 2048,
            "batch_size": 64, "engine_options": {}},
}


def generator_options(params: dict) -> dict:
    if params["generator"] == "llm":
        return dict(params["llm"])
    return {}


@click.command(help="Answer every sampled question with each candidate generator.")
@click.option("--sample", "sample_path", required=True, type=click.Path(dir_okay=False),
              help="Sampled items (bbq_item JSONL).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Candidates (JSONL); the sidecar X.meta.json is written beside it.")
@params_option
@one_line_errors
def command(sample_path: str, out: str, params_path: str | None) -> None:
    params = stage_params(params_path, "candidates") or DEFAULTS
    items = jsonio.read_jsonl(sample_path, schema="bbq_item")
    generator = make_generator(params["generator"], **generator_options(params))
    rows = list(generator.generate(items, seed=params["seed"]))
    jsonio.write_jsonl(out, rows, schema="candidate")
    jsonio.write_meta(out, {
        "artifact": Path(out).name,
        "rows": len(rows),
        "seed": params["seed"],
        "counts": {
            "questions": len(items),
            "by_generator": count_by(rows, "generator"),
            "by_generator_style": count_by(rows, "generator", "style"),
            "truncated": sum(r["truncated"] for r in rows),
        },
        "inputs": {sample_path: jsonio.sha256_file(sample_path)},
        "params": params,
        "warnings": [],
    })
    click.echo(f"candidates: {len(rows)} responses to {len(items)} questions "
               f"({params['generator']}) -> {out}", err=True)
