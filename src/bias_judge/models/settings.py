"""The params sections `model`, `sft` and `dpo` as typed models (core/settings.py).

The `sft` and `dpo` keys are TRL's own `SFTConfig`/`DPOConfig` field names wherever TRL has
the setting (`learning_rate`, `lr_scheduler_type`, `warmup_steps`, `num_train_epochs`,
`per_device_train_batch_size`, `optim`, ...): `models/training.py` hands those to TRL as they
are. Keys of our own (the row subset, LoRA, the batch the run adds up to, the precision rule,
the verdict weight, the DPO reference) stay ours.

Kept apart from the training code so that a stage can read its settings (and a test can
build them) without importing torch.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from bias_judge.core.settings import Dtype, Precision, Section, Seed
from bias_judge.models.rows import Overlong

Positive = Annotated[int, Field(ge=1)]
Ratio = Annotated[float, Field(ge=0, lt=1)]


class ModelSettings(Section):
    """params section `model`: the base model and how it is held while training."""
    source: str = Field(min_length=1, description=(
        "what base_model materialises: tiny | gguf:smollm2 | gguf:gemma3-270m | "
        "path/to/file.gguf | local folder | hub id org/name"))
    revision: str | None = Field(min_length=1, description="hub ids only")
    chat_template: str | None = Field(min_length=1, description=(
        "a .jinja file replacing or supplying the chat template"))
    quantization: Literal["none", "nf4"] = Field(description="nf4: bitsandbytes 4-bit QLoRA")
    dtype: Dtype = Field(description=(
        "the frozen base weights while training (and the nf4 compute dtype); auto: bf16 where "
        "the hardware computes it natively, else fp32 (docs/precision.md)"))
    threads: int = Field(ge=0, description="torch CPU threads; 0 leaves torch's default")
    allocator: Literal["system", "jemalloc"] = Field(description=(
        "jemalloc: preloaded when libjemalloc2 is installed"))


class TrainSettings(Section):
    """The keys the `sft` and `dpo` sections share."""
    max_rows: int | None = Field(ge=1, description=(
        "deterministic subset (whole pairs, seeded); null = all rows"))
    seed: Seed
    learning_rate: float = Field(gt=0, le=1)
    lr_scheduler_type: Literal["cosine", "linear", "constant", "constant_with_warmup",
                               "cosine_with_restarts", "polynomial", "inverse_sqrt"]
    warmup_steps: Ratio | Positive = Field(description=(
        "a float in [0, 1): a share of the total steps; an integer >= 1: steps (TRL's rule)"))
    weight_decay: float = Field(ge=0, le=1)
    num_train_epochs: float = Field(gt=0)
    max_steps: int | None = Field(ge=1, description="when set, overrides num_train_epochs")
    per_device_train_batch_size: int = Field(ge=1)
    effective_batch: int = Field(ge=1, description=(
        "per-device batch x gradient accumulation x processes (the accumulation is derived)"))
    max_length: int = Field(ge=16)
    overlong: Overlong = Field(description=(
        "rows above max_length: dropped, kept for truncation, or an error"))
    optim: Literal["adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit",
                   "adafactor", "sgd"]
    precision: Precision = Field(description=(
        "autocast precision; auto: bf16 where the hardware computes it natively, else fp32 "
        "(CPU) or fp16 (CUDA)"))
    gradient_checkpointing: bool
    save_steps: int = Field(ge=1)
    save_total_limit: int | None = Field(ge=1)
    logging_steps: int = Field(ge=1)


class LoraSettings(Section):
    """params `sft.lora`."""
    r: int = Field(ge=1)
    alpha: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    target_modules: Annotated[str, Field(min_length=1)] | \
        Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = Field(
            description='"all-linear", a regex, or module names')


class SFTSettings(TrainSettings):
    """params section `sft`."""
    lora: LoraSettings
    verdict_weight: float = Field(ge=1, description=(
        "loss weight of the decision token (the first token after <verdict>; "
        "models/verdict_weight.py); 1 = the plain token mean"))
    balance_verdicts: bool = Field(description=(
        "when max_rows takes a subset: two decided pairs to one TIE pair, so A, B and TIE rows "
        "are about equally many"))


class DPOSettings(TrainSettings):
    """params section `dpo`; DPO continues the SFT adapter, so it has no LoRA keys."""
    beta: float = Field(gt=0)
    loss_type: Literal["sigmoid", "hinge", "ipo", "robust", "bco_pair", "sppo_hard", "nca_pair",
                       "apo_zero", "apo_down"]
    sft_weight: float = Field(ge=0, description=(
        "weight of TRL's sft loss (NLL of the chosen answer) added to the preference loss; "
        "0 = none"))
    reference: Literal["base", "sft"] = Field(description=(
        "base: the base model with the adapter disabled (as published); sft: a frozen copy of "
        "the SFT adapter"))
