"""Pluggable labelers: each turns training pairs into labelled pairs (verdict, reasoning,
confidence, label_source). Add one by writing a module with `label_pairs(pairs, **options)
-> LabelResult` and registering its name here."""

from __future__ import annotations

import importlib

from bias_judge.core.errors import InputError

from bias_judge.data.labelers.base import LabelResult

# name -> module under bias_judge.labelers
LABELERS: dict[str, str] = {
    "rule": "rule",
    "import": "imported",
}


def run_labeler(name: str, pairs: list[dict], **options) -> LabelResult:
    if name not in LABELERS:
        raise InputError(f"unknown labeler {name!r} (known: {', '.join(sorted(LABELERS))})",
                         field="label.labeler")
    module = importlib.import_module(f"{__name__}.{LABELERS[name]}")
    return module.label_pairs(pairs, **options)


__all__ = ["LABELERS", "LabelResult", "run_labeler"]
