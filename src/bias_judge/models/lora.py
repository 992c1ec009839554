"""The LoRA adapter configuration, from params."""

from __future__ import annotations


def lora_config(r: int, alpha: int, dropout: float, target_modules):
    """`target_modules`: "all-linear" (every linear layer but the output head), a list of
    module names, or one regex string matched against full module names (e.g. to keep a
    multimodal model's vision and audio towers out of the adapter)."""
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules,
                      bias="none", task_type="CAUSAL_LM")
