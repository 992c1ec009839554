"""Supervised fine-tuning of the judge: TRL SFTTrainer + a PEFT LoRA adapter, loss on the
completion (the judge's reply) only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..jsonio import read_jsonl, write_json
from . import checkpoints, lm_head, rows as rowlib
from .callbacks import SFT_CURVES, CheckpointMarker, LiveCurves, TrainTimer, prior_seconds
from .materialize import check_model_folder
from .training import (BaseSettings, Outputs, TrainSettings, check_settings, load_base,
                       load_tokenizer, run, run_fingerprint_parts, save_outputs, trainer_kwargs)


@dataclass
class SFTSettings(TrainSettings):
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: str | list = "all-linear"


@dataclass
class Prepared:
    trainer: object
    tokenizer: object
    report: rowlib.LengthReport
    resume_from: Path | None
    rows_total: int
    timer: TrainTimer


def prepare(base: BaseSettings, s: SFTSettings, rows_path: str, outputs: Outputs) -> Prepared:
    """Everything up to the first training step. All bad input is found here, before the
    checkpoint folder is touched or any model weights are loaded."""
    check_settings(base, s)
    check_model_folder(base.model_dir)
    rows = read_jsonl(rows_path, schema="sft_row")
    if not rows:
        from ..errors import InputError
        raise InputError("no SFT rows", file=rows_path)
    subset = rowlib.select_rows(rows, s.max_rows, s.seed)
    tokenizer = load_tokenizer(base.model_dir)
    report = rowlib.check_rows(tokenizer, subset, ("completion",), max_length=s.max_length,
                               overlong=s.overlong, source=rows_path)

    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from .lora import lora_config

    config = SFTConfig(**trainer_kwargs(s, outputs.checkpoints), packing=False,
                       completion_only_loss=True, dataset_num_proc=None)
    fp = checkpoints.fingerprint(**run_fingerprint_parts(base, s, report.kept, {"stage": "sft"}))
    with config.main_process_first(local=False, desc="checkpoint folder"):
        # Under DDP the main process cleans or keeps the folder; the others then find it so.
        resume_from = checkpoints.prepare(outputs.checkpoints, fp)
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]}
                                 for r in report.kept])
    timer = TrainTimer(prior_seconds(resume_from))
    trainer = SFTTrainer(
        model=load_base(base), args=config, train_dataset=dataset, processing_class=tokenizer,
        peft_config=lora_config(s.lora_r, s.lora_alpha, s.lora_dropout, s.target_modules),
        callbacks=[timer, CheckpointMarker(), LiveCurves(outputs.live_dir, SFT_CURVES),
                   *outputs.extra_callbacks])
    lm_head.install_on_cpu(trainer)
    return Prepared(trainer, tokenizer, report, resume_from, len(rows), timer)


def train_sft(base: BaseSettings, s: SFTSettings, rows_path: str, outputs: Outputs,
              base_name: str = "") -> dict:
    """Train, write adapter + merged model + summary; returns the summary."""
    from .runtime import hardware

    prep = prepare(base, s, rows_path, outputs)
    result = run(prep.trainer, prep.resume_from, prep.timer)
    if prep.trainer.is_world_process_zero():
        save_outputs(prep.trainer, prep.tokenizer, base.model_dir, outputs)
    summary = {
        "rows": len(prep.report.kept),
        **{k: result[k] for k in ("steps", "epochs", "final_loss", "wall_time_s", "tokens_per_s",
                                  "resumed_from_step")},
        "hardware": hardware(),
        "base_model": base_name or base.model_dir,
        "quantization": base.quantization,
        "lora_r": s.lora_r,
        "lora_alpha": s.lora_alpha,
        "learning_rate": s.learning_rate,
        "effective_batch": s.effective_batch,
        "max_length": s.max_length,
        "seed": s.seed,
        "dropped_or_truncated_rows": prep.report.overlong,
        "overlong_policy": s.overlong,
        "rows_available": prep.rows_total,
        "max_row_tokens": prep.report.max_tokens,
        "mean_row_tokens": round(prep.report.mean_tokens, 1),
    }
    if prep.trainer.is_world_process_zero():
        write_json(outputs.metrics_path, summary, schema="train_summary")
    return summary
