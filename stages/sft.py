"""Stage sft: LoRA supervised fine-tuning of the judge (TRL SFTTrainer + PEFT).

    bias-judge sft --model models/base --rows data/rows/sft.jsonl --out-dir models/sft \
        --metrics metrics/train_sft.json --live-dir dvclive/sft --params params.yaml

Reads params `model` (quantization, dtype, threads, allocator) and `sft`. Loss on the judge's
reply only. Writes OUT_DIR/adapter (LoRA), OUT_DIR/merged (adapter merged into the
unquantised base, with tokenizer and chat template) and the summary; per-step loss, learning
rate and grad norm go to the dvclive folder. OUT_DIR/checkpoints holds resumable state: a rerun
with the same params, rows and base continues from the last complete checkpoint.
Every input is checked (rows, chat template, lengths, params) before training starts.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.stages.common import one_line_errors, params_option

# Without --params: the published recipe (SPEC §7).
MODEL_DEFAULTS = {"source": "google/gemma-4-E4B-it", "quantization": "nf4", "dtype": "bfloat16",
                  "threads": 0, "allocator": "system"}


def base_settings(model_params: dict | None, model_dir: str):
    from bias_judge.models.training import BaseSettings
    p = {**MODEL_DEFAULTS, **(model_params or {})}
    return BaseSettings(model_dir=model_dir, quantization=p["quantization"], dtype=p["dtype"],
                        threads=int(p["threads"]), allocator=p["allocator"])


def train_fields(p: dict) -> dict:
    """The params keys shared by the sft and dpo sections, as TrainSettings fields."""
    keys = ("seed", "learning_rate", "lr_scheduler", "warmup_ratio", "weight_decay", "epochs",
            "max_steps", "per_device_batch_size", "effective_batch", "max_length", "overlong",
            "optimizer", "precision", "gradient_checkpointing", "save_steps", "save_total_limit",
            "logging_steps", "max_rows")
    return {k: p[k] for k in keys if k in p}


def sft_settings(p: dict | None):
    from bias_judge.models.sft import SFTSettings
    if not p:
        return SFTSettings()
    lora = p.get("lora", {})
    extra = {f"lora_{k}": lora[k] for k in ("r", "alpha", "dropout") if k in lora}
    if "target_modules" in lora:
        extra["target_modules"] = lora["target_modules"]
    if "verdict_weight" in p:
        extra["verdict_weight"] = float(p["verdict_weight"])
    return SFTSettings(**train_fields(p), **extra)


def qualify(exc, section: str):
    """Library errors name a settings field; the user knows it as `section.field`."""
    if exc.field and "." not in exc.field:
        exc.field = f"{section}.{exc.field}"
    return exc


@click.command(help="LoRA SFT of the judge (TRL SFTTrainer + PEFT), loss on the reply only; "
                    "resumes from its own checkpoints.")
@click.option("--model", "model_dir", default="models/base", show_default=True,
              type=click.Path(file_okay=False), help="base model folder (base_model stage)")
@click.option("--rows", default="data/rows/sft.jsonl", show_default=True,
              type=click.Path(dir_okay=False), help="SFT rows (sft_row schema)")
@click.option("--out-dir", default="models/sft", show_default=True, type=click.Path(file_okay=False),
              help="adapter/, merged/ and checkpoints/ are written below it")
@click.option("--metrics", "metrics_path", default="metrics/train_sft.json", show_default=True,
              type=click.Path(dir_okay=False), help="training summary (train_summary schema)")
@click.option("--live-dir", default="dvclive/sft", show_default=True, type=click.Path(file_okay=False),
              help="dvclive folder for the per-step curves")
@params_option
@one_line_errors
def command(model_dir, rows, out_dir, metrics_path, live_dir, params_path):
    from bias_judge.errors import InputError
    from bias_judge.params import load_params

    params = load_params(params_path) if params_path else {}
    model_p = params.get("model")
    base = base_settings(model_p, model_dir)
    settings = sft_settings(params.get("sft"))
    from bias_judge.models import runtime
    runtime.apply(base.threads, base.allocator)  # may re-execute this command once
    _quiet_libraries()

    from bias_judge.models.sft import train_sft
    from bias_judge.models.training import Outputs
    outputs = Outputs(out_dir=Path(out_dir), metrics_path=Path(metrics_path), live_dir=Path(live_dir))
    try:
        summary = train_sft(base, settings, rows, outputs,
                            base_name=(model_p or MODEL_DEFAULTS)["source"])
    except InputError as exc:
        raise qualify(exc, "sft") from None
    click.echo(f"sft: {summary['rows']} rows, {summary['steps']} steps, final loss "
               f"{summary['final_loss']:.4f}, {summary['tokens_per_s']:.0f} tokens/s", err=True)


def _quiet_libraries() -> None:
    """Progress bars of datasets/transformers only when bias_judge's own would show."""
    from bias_judge.progress import progress_enabled
    if not progress_enabled():
        import datasets
        import transformers
        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
