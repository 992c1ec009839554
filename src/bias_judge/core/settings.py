"""Typed settings, built field for field from params.yaml with the params' own key names.

A settings class is a frozen dataclass whose fields are the keys of one params section,
with nested dataclasses for nested sections (`candidates.llm`, `sft.lora`). Fields have no
defaults: every value comes from params.yaml (or a profile merged onto it), so the recipe is
written in one place. `build` refuses a section whose keys differ from the fields, which is
how a key added to the params schema but not to the code (or the reverse) shows up at once.

A stage declares what it reads as `{dotted key: type}`: a settings class for a whole section
(`"sample": SampleSettings`), or a plain type for one value (`"split.ood_category": str`).
`read_settings` gives it exactly those and nothing else, so the declaration is the truth
that tests/test_dvc_contract.py holds dvc.yaml's `params:` against.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from bias_judge.core.errors import InputError
from bias_judge.core.params import load_params

T = TypeVar("T")


def is_settings(kind: Any) -> bool:
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def build(cls: type[T], values: Any, where: str) -> T:
    """`cls` from the params mapping found at `where` (a dotted key, for error messages)."""
    if not isinstance(values, Mapping):
        raise InputError("expected a mapping", field=where)
    names = [f.name for f in dataclasses.fields(cls)]
    missing = [n for n in names if n not in values]
    if missing:
        raise InputError(f"missing key '{where}.{missing[0]}'", field=f"{where}.{missing[0]}")
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InputError(f"unknown key '{where}.{unknown[0]}' (the code has no such setting)",
                         field=f"{where}.{unknown[0]}")
    hints = typing.get_type_hints(cls)
    return cls(**{name: build(hints[name], values[name], f"{where}.{name}")
                  if is_settings(hints[name]) else values[name] for name in names})


def lookup(params: Mapping, key: str) -> Any:
    """The value at a dotted key, or an InputError naming the key."""
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise InputError(f"missing key '{key}'", field=key)
        node = node[part]
    return node


def read_settings(params_path: str | os.PathLike, reads: Mapping[str, type]) -> dict[str, Any]:
    """{dotted key: value} for exactly the keys a stage declares, the whole file validated
    against the params schema first; settings classes are built from their section."""
    params = load_params(params_path)
    out = {}
    for key, kind in reads.items():
        try:
            value = lookup(params, key)
            out[key] = build(kind, value, key) if is_settings(kind) else value
        except InputError as exc:
            exc.file = exc.file or str(params_path)
            raise InputError(exc.message, file=exc.file, line=exc.line, field=exc.field) from None
    return out


def as_params(settings: Any) -> dict:
    """The params mapping a settings object was built from (the sidecar's `params`)."""
    return dataclasses.asdict(settings)
