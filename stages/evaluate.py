"""Stage `evaluate`: one checkpoint, seven judge passes per eval pair, metrics per eval set.

    bias-judge evaluate --checkpoint base --model models/base --eval-set data/split/eval.jsonl \
        --out-dir eval/base --metrics metrics/eval_base.json [--params params.yaml]

writes, for the split's eval set (set name "split") and each `eval.human_sets` entry NAME:
OUT_DIR/NAME.predictions.jsonl (schema predictions), OUT_DIR/NAME.meta.json, and
OUT_DIR/confusion_NAME.json (`dvc plots` confusion data); then METRICS =
{"checkpoint", "sets": {NAME: one-set metrics (schema eval_metrics)}}. Verbosity bias counts
tokens with the checkpoint's own tokenizer. The engines' own output (start-up, warnings)
goes to OUT_DIR.log (core.progress.engine_log); the terminal shows the bar and the summary.
params sections `eval` (engine, dtype, max_model_len, max_new_tokens, sample_temperature,
seed, split_set, human_sets {name: path}, max_pairs, batch_size, bootstrap_resamples,
engine_options) and `prompt` (style).
"""

from __future__ import annotations

import click

from bias_judge.core.progress import engine_log, log_path_for
from bias_judge.data.prompt import PromptSettings
from bias_judge.evaluation.evaluate import evaluate_checkpoint
from bias_judge.evaluation.settings import EvalSettings
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"eval": EvalSettings, "prompt": PromptSettings}


@click.command(help="Run the seven judge passes of one checkpoint over the eval sets and "
                    "compute its metrics.")
@click.option("--checkpoint", required=True, help="Checkpoint name (base, sft, dpo).")
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
              help="Model folder: weights, tokenizer with chat template.")
@click.option("--eval-set", "eval_set", required=True, type=click.Path(dir_okay=False),
              help="The split's eval set (eval_pair JSONL).")
@click.option("--out-dir", required=True, type=OutputPath(file_okay=False),
              help="Folder for predictions and confusion data.")
@click.option("--metrics", "metrics_path", required=True, type=OutputPath(dir_okay=False),
              help="Per-checkpoint metrics JSON.")
@params_option
@one_line_errors
def command(checkpoint: str, model_dir: str, eval_set: str, out_dir: str, metrics_path: str,
            params_path: str) -> None:
    p = read_settings(params_path, PARAMS)
    with engine_log(log_path_for(out_dir)):
        result = evaluate_checkpoint(checkpoint, model_dir, eval_set, out_dir, metrics_path,
                                     p["eval"], p["prompt"])
    emit(f"evaluate {checkpoint}", result)
