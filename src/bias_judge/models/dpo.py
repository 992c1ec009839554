"""Preference tuning of the judge: TRL DPOTrainer, continuing the SFT LoRA adapter.

Reference model (`reference`): `base` (the published recipe) scores with the adapter disabled,
i.e. the plain base model; `sft` scores with a frozen copy of the SFT adapter, the usual DPO
choice (the policy's own starting point).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import read_jsonl, sha256_tree
from bias_judge.models import checkpoints, lm_head, rows as rowlib
from bias_judge.models.folder import check_model_folder, load_tokenizer
from bias_judge.models.runtime import start
from bias_judge.models.settings import DPOSettings, ModelSettings
from bias_judge.models.training import (Base, Outputs, Prepared, check_settings, load_base, named_in,
                                        resolve_precision, run_fingerprint_parts,
                                        train_and_summarise, trainer_kwargs)



def _check_adapter(adapter_dir: str) -> dict:
    import json
    p = Path(adapter_dir)
    cfg = p / "adapter_config.json"
    if not cfg.is_file() or not (p / "adapter_model.safetensors").is_file():
        raise InputError("not a LoRA adapter folder (adapter_config.json + "
                         "adapter_model.safetensors expected)", file=str(p))
    return json.loads(cfg.read_text())


def loss_terms(s: DPOSettings) -> dict:
    """DPOConfig's loss_type/loss_weights: the preference loss, plus TRL's "sft" term (the
    chosen answer's NLL) with `sft_weight`, which keeps the judge's reply format and the
    label's reasoning while the preference loss moves the verdict."""
    if s.sft_weight == 0:
        return {"loss_type": [s.loss_type]}
    return {"loss_type": [s.loss_type, "sft"], "loss_weights": [1.0, s.sft_weight]}


def prepare(base: Base, s: DPOSettings, sft_adapter: str, rows_path: str,
            outputs: Outputs) -> Prepared:
    check_settings(base, s)
    check_model_folder(base.model_dir)
    adapter_cfg = _check_adapter(sft_adapter)
    rows = read_jsonl(rows_path, schema="dpo_row")
    if not rows:
        raise InputError("no DPO rows", file=rows_path)
    subset = rowlib.select_rows(rows, s.max_rows, s.seed)
    tokenizer = load_tokenizer(base.model_dir)
    report = rowlib.check_rows(tokenizer, subset, ("chosen", "rejected"), max_length=s.max_length,
                               overlong=s.overlong, source=rows_path)

    from datasets import Dataset
    from peft import PeftModel

    from bias_judge.models.callbacks import (DPO_CURVES, CheckpointMarker, LiveCurves, StepBar,
                                             TrainTimer, prior_seconds)
    from trl import DPOConfig, DPOTrainer

    config = DPOConfig(**{**trainer_kwargs(s, outputs.checkpoints, DPOConfig), **loss_terms(s),
                          "dataset_num_proc": None})
    fp = checkpoints.fingerprint(**run_fingerprint_parts(
        base, s, report.kept, {"stage": "dpo", "sft_adapter": sha256_tree(sft_adapter)}, entry=__name__))
    with config.main_process_first(local=False, desc="checkpoint folder"):
        resume_from = checkpoints.prepare(outputs.checkpoints, fp)
    dataset = Dataset.from_list([{"prompt": r["prompt"], "chosen": r["chosen"],
                                  "rejected": r["rejected"]} for r in report.kept])
    model = load_base(base)
    if s.gradient_checkpointing:
        model.enable_input_require_grads()
    # The policy starts as the SFT judge: its adapter, trainable.
    model = PeftModel.from_pretrained(model, sft_adapter, is_trainable=True)
    timer = TrainTimer(prior_seconds(resume_from))
    trainer = DPOTrainer(model=model, ref_model=None, args=config, train_dataset=dataset,
                         processing_class=tokenizer,
                         callbacks=[timer, CheckpointMarker(), LiveCurves(outputs.live_dir, DPO_CURVES),
                                    StepBar("dpo"), *outputs.extra_callbacks])
    peft_model = trainer.accelerator.unwrap_model(trainer.model)
    # TRL 1.16 gives a policy that already has an adapter a frozen copy of it ("ref") as the
    # reference. Without that copy, it scores the reference with adapters disabled: the base.
    if s.reference == "base" and "ref" in peft_model.peft_config:
        peft_model.delete_adapter("ref")
        peft_model.set_adapter("default")
    lm_head.install_on_cpu(trainer)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    if not trainable or any(".ref." in n for n in trainable):
        raise RuntimeError("DPO policy adapter is not the only trainable part")  # a TRL/PEFT change
    return Prepared(trainer, tokenizer, report, resume_from, len(rows), timer,
                    {"r": int(adapter_cfg.get("r", 0)), "alpha": int(adapter_cfg.get("lora_alpha", 0))})


def train_dpo(base: Base, s: DPOSettings, sft_adapter: str, rows_path: str,
              outputs: Outputs) -> dict:
    model, s, precision = resolve_precision(base.model, s, "dpo")
    base = replace(base, model=model)
    prep = prepare(base, s, sft_adapter, rows_path, outputs)
    return train_and_summarise(prep, base, s, outputs,
                               extra={"beta": s.beta, "loss_type": s.loss_type, "sft_weight": s.sft_weight,
                                      "reference": s.reference, "precision": precision})


def run_dpo(model: ModelSettings, s: DPOSettings, model_dir: str | os.PathLike,
            sft_adapter: str | os.PathLike, rows_path: str | os.PathLike,
            outputs: Outputs) -> dict:
    """The dpo stage: process set-up (may re-execute the command), then train_dpo."""
    start(model)
    with named_in("dpo"):
        return train_dpo(Base(str(model_dir), model), s, str(sft_adapter), str(rows_path),
                         outputs)
