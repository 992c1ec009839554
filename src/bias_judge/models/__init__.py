"""Base model, LoRA SFT and DPO: materialising a model folder and training judges from it.

Library code: plain function arguments, no knowledge of DVC or the params.yaml layout.
Heavy imports (torch, transformers, trl, peft) stay inside functions.
"""
