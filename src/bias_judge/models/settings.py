"""The params sections `model`, `sft` and `dpo` as typed settings, field for field.

Kept apart from the training code so that a stage can read its settings (and a test can
build them) without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSettings:
    """params section `model`."""
    source: str                  # what base_model materialises (tiny | gguf:... | folder | hub id)
    revision: str | None         # hub ids only
    chat_template: str | None    # a .jinja file replacing or supplying the chat template
    quantization: str            # none | nf4 (bitsandbytes 4-bit QLoRA)
    dtype: str                   # frozen base weights while training (and the nf4 compute dtype)
    threads: int                 # torch CPU threads; 0 leaves torch's default
    allocator: str               # system | jemalloc (preloaded when libjemalloc2 is installed)


@dataclass(frozen=True)
class TrainSettings:
    """The keys the `sft` and `dpo` sections share (TRL's names where TRL has one)."""
    max_rows: int | None         # deterministic subset (whole pairs); None = all rows
    seed: int
    learning_rate: float
    lr_scheduler: str
    warmup_ratio: float
    weight_decay: float
    epochs: float
    max_steps: int | None        # when set, overrides epochs
    per_device_batch_size: int
    effective_batch: int         # per-device batch x grad accumulation x processes
    max_length: int
    overlong: str                # drop | truncate | error, for rows above max_length
    optimizer: str
    precision: str               # mixed-precision autocast: bf16 | fp16 | fp32 (off)
    gradient_checkpointing: bool
    save_steps: int
    save_total_limit: int | None
    logging_steps: int


@dataclass(frozen=True)
class LoraSettings:
    """params `sft.lora`."""
    r: int
    alpha: int
    dropout: float
    target_modules: str | list[str]   # "all-linear", a regex, or module names


@dataclass(frozen=True)
class SFTSettings(TrainSettings):
    """params section `sft`."""
    lora: LoraSettings
    verdict_weight: float        # loss weight of the decision token (models/verdict_weight.py)
    balance_verdicts: bool       # the max_rows subset teaches A, B and TIE about equally often


@dataclass(frozen=True)
class DPOSettings(TrainSettings):
    """params section `dpo`; DPO continues the SFT adapter, so it has no LoRA keys."""
    beta: float
    loss_type: str
    sft_weight: float            # weight of TRL's "sft" loss (NLL of the chosen answer) added; 0 = none
    reference: str               # base (adapter off) | sft (frozen copy of the SFT adapter)
