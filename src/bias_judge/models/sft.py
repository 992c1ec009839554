"""Supervised fine-tuning of the judge: TRL SFTTrainer + a PEFT LoRA adapter, loss on the
completion (the judge's reply) only."""

from __future__ import annotations

from dataclasses import dataclass

from ..jsonio import read_jsonl
from . import checkpoints, lm_head, rows as rowlib
from .callbacks import SFT_CURVES, CheckpointMarker, LiveCurves, TrainTimer, prior_seconds
from .materialize import check_model_folder
from .training import (BaseSettings, Outputs, Prepared, TrainSettings, check_settings,
                       load_base, load_tokenizer, run_fingerprint_parts, train_and_summarise,
                       trainer_kwargs)


@dataclass
class SFTSettings(TrainSettings):
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: str | list = "all-linear"
    verdict_weight: float = 1.0   # loss weight of the decision token (see verdict_weight.py)


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
    if s.verdict_weight != 1.0:
        from . import verdict_weight

        trainer.data_collator = verdict_weight.WeightingCollator(
            trainer.data_collator, verdict_weight.decision_marker(tokenizer), s.verdict_weight)
        unwrapped = trainer.accelerator.unwrap_model(trainer.model)
        verdict_weight.install(unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model")
                               else unwrapped)
    return Prepared(trainer, tokenizer, report, resume_from, len(rows), timer,
                    {"r": s.lora_r, "alpha": s.lora_alpha})


def train_sft(base: BaseSettings, s: SFTSettings, rows_path: str, outputs: Outputs,
              base_name: str = "") -> dict:
    """Train, write adapter + merged model + summary; returns the summary."""
    prep = prepare(base, s, rows_path, outputs)
    return train_and_summarise(prep, base, s, outputs, base_name=base_name)
