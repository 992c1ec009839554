"""Stage dpo: preference tuning of the SFT judge (TRL DPOTrainer), continuing its LoRA adapter.

    bias-judge dpo --model models/base --sft-adapter models/sft/adapter --rows data/rows/dpo.jsonl \
        --out-dir models/dpo --metrics metrics/train_dpo.json --live-dir dvclive/dpo --params params.yaml

Reads params `model` and `dpo` (beta, loss type, reference: `base` = the base model with the
adapter disabled, as published; `sft` = a frozen copy of the SFT adapter), and for
merged/bias_judge.json `prompt.style`, `label.reasoning` and `eval.max_new_tokens`. Same outputs,
curves (plus reward accuracy and margin), checkpoint/resume behaviour and OUT_DIR.log as the
sft stage.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.models.judge_record import build_record
from bias_judge.models.settings import DPOSettings, ModelSettings
from bias_judge.stages.common import one_line_errors, params_option, read_settings, training_options

# prompt.style, label.* and eval.max_new_tokens do not steer training (the first three shaped
# the rows already): they go into merged/bias_judge.json, how the checkpoint must be queried.
PARAMS = {"model": ModelSettings, "dpo": DPOSettings, "prompt.style": str, "label.labeler": str,
          "label.reasoning": str, "eval.max_new_tokens": int}


@click.command(help="DPO of the SFT judge (TRL DPOTrainer), continuing its LoRA adapter; "
                    "resumes from its own checkpoints.")
@training_options("dpo")
@click.option("--sft-adapter", default="models/sft/adapter", show_default=True,
              type=click.Path(file_okay=False), help="LoRA adapter of the sft stage")
@params_option
@one_line_errors
def command(model_dir, sft_adapter, rows, out_dir, metrics_path, live_dir, params_path):
    from bias_judge.core.progress import engine_log, log_path_for
    from bias_judge.models.dpo import run_dpo
    from bias_judge.models.training import Outputs, describe

    p = read_settings(params_path, PARAMS)
    record = build_record("dpo", prompt_style=p["prompt.style"], labeler=p["label.labeler"],
                          reasoning=p["label.reasoning"], max_new_tokens=p["eval.max_new_tokens"],
                          chat_template=p["model"].chat_template)
    outputs = Outputs(out_dir=Path(out_dir), metrics_path=Path(metrics_path), live_dir=Path(live_dir),
                      judge_record=record)
    with engine_log(log_path_for(out_dir)):
        summary = run_dpo(p["model"], p["dpo"], model_dir, sft_adapter, rows, outputs)
    click.echo(describe("dpo", summary), err=True)
