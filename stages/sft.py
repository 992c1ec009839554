"""Stage sft: LoRA supervised fine-tuning of the judge (TRL SFTTrainer + PEFT).

    bias-judge sft --model models/base --rows data/rows/sft.jsonl --out-dir models/sft \
        --metrics metrics/train_sft.json --live-dir dvclive/sft --params params.yaml

Reads params `model` (quantization, dtype, threads, allocator) and `sft`. Loss on the judge's
reply only. Writes OUT_DIR/adapter (LoRA), OUT_DIR/merged (adapter merged into the
unquantised base, with tokenizer and chat template, and bias_judge.json: the prompt.style,
label reasoning and eval.max_new_tokens to query it with) and the summary; per-step loss, learning
rate and grad norm go to the dvclive folder (LIVE_DIR/metrics.json and LIVE_DIR/plots/).
OUT_DIR/checkpoints holds resumable state: a rerun with the same params, rows, base and
training code continues from the last complete checkpoint. Every input is checked (rows, chat
template, lengths, params) before training starts. The terminal shows a step bar and the
summary; the libraries' own output goes to OUT_DIR.log.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.models.judge_record import build_record
from bias_judge.models.settings import ModelSettings, SFTSettings
from bias_judge.stages.common import one_line_errors, params_option, read_settings, training_options

# prompt.style, label.* and eval.max_new_tokens do not steer training (the first three shaped
# the rows already): they go into merged/bias_judge.json, how the checkpoint must be queried.
PARAMS = {"model": ModelSettings, "sft": SFTSettings, "prompt.style": str, "label.labeler": str,
          "label.reasoning": str, "eval.max_new_tokens": int}


@click.command(help="LoRA SFT of the judge (TRL SFTTrainer + PEFT), loss on the reply only; "
                    "resumes from its own checkpoints.")
@training_options("sft")
@params_option
@one_line_errors
def command(model_dir, rows, out_dir, metrics_path, live_dir, params_path):
    from bias_judge.core.progress import engine_log, log_path_for
    from bias_judge.models.sft import run_sft
    from bias_judge.models.training import Outputs, describe

    p = read_settings(params_path, PARAMS)
    record = build_record("sft", prompt_style=p["prompt.style"], labeler=p["label.labeler"],
                          reasoning=p["label.reasoning"], max_new_tokens=p["eval.max_new_tokens"],
                          chat_template=p["model"].chat_template)
    outputs = Outputs(out_dir=Path(out_dir), metrics_path=Path(metrics_path), live_dir=Path(live_dir),
                      judge_record=record)
    with engine_log(log_path_for(out_dir)):
        summary = run_sft(p["model"], p["sft"], model_dir, rows, outputs)
    click.echo(describe("sft", summary), err=True)
