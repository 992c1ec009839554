"""Stage `export`: one merged checkpoint as GGUF for llama.cpp and Ollama.

    bias-judge export --checkpoint dpo --model models/dpo/merged --out-dir models/dpo/gguf \
        [--base-model-metrics metrics/base_model.json] \
        [--params params.yaml]

writes OUT_DIR/bias-judge-<checkpoint>.<TYPE>.gguf for each `export.quantizations` entry,
OUT_DIR/Modelfile (Ollama: the first GGUF, the chat template as a Go template, the judge's
system prompt, stop tokens, greedy decoding with eval.max_new_tokens and eval.max_model_len;
the prompt style and max_new_tokens come from the checkpoint's bias_judge.json where it has
one, with a warning when params.yaml differs),
OUT_DIR/README.md and OUT_DIR/export.json (schema gguf_export: sizes and sha256s). With
`export.quantizations: []` only the README and the manifest, saying nothing was converted.
Only llama checkpoints convert (SmolLM2); others are a one-line error naming the class.
"""

from __future__ import annotations

import click

from bias_judge.core.progress import engine_log, log_path_for
from bias_judge.core.vocabulary import RELEASED
from bias_judge.data.prompt import PromptSettings
from bias_judge.export.export import ExportSettings, export_checkpoint, read_facts
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"export": ExportSettings, "prompt": PromptSettings, "eval.max_new_tokens": int,
          "eval.max_model_len": int, "eval.seed": int, "card.repo_ids": dict}


@click.command(help="Convert a merged checkpoint to GGUF with an Ollama Modelfile and README.")
@click.option("--checkpoint", required=True, type=click.Choice(RELEASED),
              help="Which released checkpoint (names the files).")
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
              help="The merged checkpoint folder.")
@click.option("--out-dir", required=True, type=OutputPath(file_okay=False),
              help="Folder for the GGUF files, Modelfile, README.md and export.json (replaced).")
@click.option("--base-model-metrics", default="metrics/base_model.json", show_default=True,
              type=click.Path(dir_okay=False), help="The base model's description (README).")
@params_option
@one_line_errors
def command(checkpoint: str, model_dir: str, out_dir: str, base_model_metrics: str,
            params_path: str) -> None:
    from bias_judge.models.judge_record import apply_record

    p = read_settings(params_path, PARAMS)
    # The Modelfile must prompt the way the checkpoint was trained, whatever params.yaml says now.
    query, warnings = apply_record(model_dir, {"prompt_style": p["prompt"].style,
                                               "max_new_tokens": p["eval.max_new_tokens"]},
                                   options=None)
    facts = read_facts(base_model_metrics,
                       max_new_tokens=query["max_new_tokens"], max_model_len=p["eval.max_model_len"],
                       seed=p["eval.seed"], prompt_style=query["prompt_style"],
                       repo_id=p["card.repo_ids"].get(checkpoint))
    with engine_log(log_path_for(out_dir)):
        result = export_checkpoint(checkpoint, model_dir, out_dir, p["export"], facts)
    result.warnings[:0] = warnings
    emit(f"export {checkpoint}", result)
