"""Supervised fine-tuning of the judge: TRL SFTTrainer + a PEFT LoRA adapter, loss on the
completion (the judge's reply) only."""

from __future__ import annotations

import os
from dataclasses import replace

from bias_judge.core.jsonio import read_jsonl
from bias_judge.models import checkpoints, lm_head, rows as rowlib
from bias_judge.models.folder import check_model_folder, load_tokenizer
from bias_judge.models.runtime import start
from bias_judge.models.settings import ModelSettings, SFTSettings
from bias_judge.models.training import (Base, Outputs, Prepared, check_settings, load_base, named_in,
                                        resolve_precision, run_fingerprint_parts,
                                        train_and_summarise, trainer_kwargs)


def prepare(base: Base, s: SFTSettings, rows_path: str, outputs: Outputs) -> Prepared:
    """Everything up to the first training step. All bad input is found here, before the
    checkpoint folder is touched or any model weights are loaded."""
    check_settings(base, s)
    check_model_folder(base.model_dir)
    rows = read_jsonl(rows_path, schema="sft_row")
    if not rows:
        from bias_judge.core.errors import InputError
        raise InputError("no SFT rows", file=rows_path)
    subset = rowlib.select_rows(rows, s.max_rows, s.seed, balance_verdicts=s.balance_verdicts)
    tokenizer = load_tokenizer(base.model_dir)
    report = rowlib.check_rows(tokenizer, subset, ("completion",), max_length=s.max_length,
                               overlong=s.overlong, source=rows_path)

    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from bias_judge.models.callbacks import (SFT_CURVES, CheckpointMarker, LiveCurves, StepBar,
                                             TrainTimer, prior_seconds)
    from bias_judge.models.lora import lora_config

    config = SFTConfig(**trainer_kwargs(s, outputs.checkpoints, SFTConfig), packing=False,
                       completion_only_loss=True, dataset_num_proc=None)
    fp = checkpoints.fingerprint(**run_fingerprint_parts(base, s, report.kept, {"stage": "sft"},
                                                          entry=__name__))
    with config.main_process_first(local=False, desc="checkpoint folder"):
        # Under DDP the main process cleans or keeps the folder; the others then find it so.
        resume_from = checkpoints.prepare(outputs.checkpoints, fp)
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]}
                                 for r in report.kept])
    timer = TrainTimer(prior_seconds(resume_from))
    trainer = SFTTrainer(
        model=load_base(base), args=config, train_dataset=dataset, processing_class=tokenizer,
        peft_config=lora_config(s.lora.r, s.lora.alpha, s.lora.dropout, s.lora.target_modules),
        callbacks=[timer, CheckpointMarker(), LiveCurves(outputs.live_dir, SFT_CURVES),
                   StepBar("sft"), *outputs.extra_callbacks])
    lm_head.install_on_cpu(trainer)
    if s.verdict_weight != 1.0:
        from bias_judge.models import verdict_weight

        trainer.data_collator = verdict_weight.WeightingCollator(
            trainer.data_collator, verdict_weight.decision_marker(tokenizer), s.verdict_weight)
        unwrapped = trainer.accelerator.unwrap_model(trainer.model)
        verdict_weight.install(unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model")
                               else unwrapped)
    return Prepared(trainer, tokenizer, report, resume_from, len(rows), timer,
                    {"r": s.lora.r, "alpha": s.lora.alpha})


def train_sft(base: Base, s: SFTSettings, rows_path: str, outputs: Outputs) -> dict:
    """Train, write adapter + merged model + summary; returns the summary."""
    model, s, precision = resolve_precision(base.model, s, "sft")
    base = replace(base, model=model)
    prep = prepare(base, s, rows_path, outputs)
    return train_and_summarise(prep, base, s, outputs, extra={"precision": precision})


def run_sft(model: ModelSettings, s: SFTSettings, model_dir: str | os.PathLike,
            rows_path: str | os.PathLike, outputs: Outputs) -> dict:
    """The sft stage: process set-up (may re-execute the command), then train_sft."""
    start(model)
    with named_in("sft"):
        return train_sft(Base(str(model_dir), model), s, str(rows_path), outputs)
