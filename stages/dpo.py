"""Stage dpo: preference tuning of the SFT judge (TRL DPOTrainer), continuing its LoRA adapter.

    bias-judge dpo --model models/base --sft-adapter models/sft/adapter --rows data/rows/dpo.jsonl \
        --out-dir models/dpo --metrics metrics/train_dpo.json --live-dir dvclive/dpo --params params.yaml

Reads params `model` and `dpo` (beta, loss type, reference: `base` = the base model with the
adapter disabled, as published; `sft` = a frozen copy of the SFT adapter). Same outputs,
curves (plus reward accuracy and margin) and checkpoint/resume behaviour as the sft stage.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.stages.common import one_line_errors, params_option
from bias_judge.stages.sft import MODEL_DEFAULTS, _quiet_libraries, base_settings, qualify, train_fields


def dpo_settings(p: dict | None):
    from bias_judge.models.dpo import DPOSettings
    if not p:
        return DPOSettings()
    extra = {k: p[k] for k in ("beta", "loss_type", "reference") if k in p}
    return DPOSettings(**train_fields(p), **extra)


@click.command(help="DPO of the SFT judge (TRL DPOTrainer), continuing its LoRA adapter; "
                    "resumes from its own checkpoints.")
@click.option("--model", "model_dir", default="models/base", show_default=True,
              type=click.Path(file_okay=False), help="base model folder (base_model stage)")
@click.option("--sft-adapter", default="models/sft/adapter", show_default=True,
              type=click.Path(file_okay=False), help="LoRA adapter of the sft stage")
@click.option("--rows", default="data/rows/dpo.jsonl", show_default=True,
              type=click.Path(dir_okay=False), help="DPO rows (dpo_row schema)")
@click.option("--out-dir", default="models/dpo", show_default=True, type=click.Path(file_okay=False),
              help="adapter/, merged/ and checkpoints/ are written below it")
@click.option("--metrics", "metrics_path", default="metrics/train_dpo.json", show_default=True,
              type=click.Path(dir_okay=False), help="training summary (train_summary schema)")
@click.option("--live-dir", default="dvclive/dpo", show_default=True, type=click.Path(file_okay=False),
              help="dvclive folder for the per-step curves")
@params_option
@one_line_errors
def command(model_dir, sft_adapter, rows, out_dir, metrics_path, live_dir, params_path):
    from bias_judge.core.errors import InputError
    from bias_judge.core.params import load_params

    params = load_params(params_path) if params_path else {}
    model_p = params.get("model")
    base = base_settings(model_p, model_dir)
    settings = dpo_settings(params.get("dpo"))
    from bias_judge.models import runtime
    runtime.apply(base.threads, base.allocator)  # may re-execute this command once
    _quiet_libraries()

    from bias_judge.models.dpo import train_dpo
    from bias_judge.models.training import Outputs
    outputs = Outputs(out_dir=Path(out_dir), metrics_path=Path(metrics_path), live_dir=Path(live_dir))
    try:
        summary = train_dpo(base, settings, sft_adapter, rows, outputs,
                            base_name=(model_p or MODEL_DEFAULTS)["source"])
    except InputError as exc:
        raise qualify(exc, "dpo") from None
    click.echo(f"dpo: {summary['rows']} rows, {summary['steps']} steps, final loss "
               f"{summary['final_loss']:.4f}, {summary['tokens_per_s']:.0f} tokens/s", err=True)
