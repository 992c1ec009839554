"""Stage sft: LoRA supervised fine-tuning of the judge (TRL SFTTrainer + PEFT).

    bias-judge sft --model models/base --rows data/rows/sft.jsonl --out-dir models/sft \
        --metrics metrics/train_sft.json --live-dir dvclive/sft --params params.yaml

Reads params `model` (quantization, dtype, threads, allocator) and `sft`. Loss on the judge's
reply only. Writes OUT_DIR/adapter (LoRA), OUT_DIR/merged (adapter merged into the
unquantised base, with tokenizer and chat template) and the summary; per-step loss, learning
rate and grad norm go to the dvclive folder (LIVE_DIR/metrics.json and LIVE_DIR/plots/).
OUT_DIR/checkpoints holds resumable state: a rerun with the same params, rows, base and
training code continues from the last complete checkpoint. Every input is checked (rows, chat
template, lengths, params) before training starts. The terminal shows a step bar and the
summary; the libraries' own output goes to OUT_DIR.log.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.models.settings import ModelSettings, SFTSettings
from bias_judge.stages.common import one_line_errors, params_option, read_settings, training_options

PARAMS = {"model": ModelSettings, "sft": SFTSettings}


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
    outputs = Outputs(out_dir=Path(out_dir), metrics_path=Path(metrics_path), live_dir=Path(live_dir))
    with engine_log(log_path_for(out_dir)):
        summary = run_sft(p["model"], p["sft"], model_dir, rows, outputs)
    click.echo(describe("sft", summary), err=True)
