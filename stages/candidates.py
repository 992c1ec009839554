"""Stage `candidates`: sampled BBQ items -> candidate responses (schema `candidate`).

    bias-judge candidates --sample data/sample.jsonl --out data/candidates.jsonl [--params params.yaml]

params section `candidates`: generator (template | llm), seed, llm {models,
samples_per_question, temperature, max_new_tokens, engine, dtype, max_model_len, batch_size,
engine_options}. The llm options are used only with `generator: llm`; dvc.yaml lists
models/base as a dependency, other model folders are tracked by their path in params. The
inference engine's own output goes to OUT's stem + `.log` (data/candidates.log).
"""

from __future__ import annotations

import click

from bias_judge.core.progress import engine_log, log_path_for
from bias_judge.data.generators import CandidateSettings, generate_candidates
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"candidates": CandidateSettings}


@click.command(help="Answer every sampled question with each candidate generator.")
@click.option("--sample", "sample_path", required=True, type=click.Path(dir_okay=False),
              help="Sampled items (bbq_item JSONL).")
@click.option("--out", required=True, type=OutputPath(dir_okay=False),
              help="Candidates (JSONL); the sidecar X.meta.json is written beside it.")
@params_option
@one_line_errors
def command(sample_path: str, out: str, params_path: str) -> None:
    s = read_settings(params_path, PARAMS)["candidates"]
    with engine_log(log_path_for(out)):
        result = generate_candidates(sample_path, out, s)
    emit("candidates", result)
