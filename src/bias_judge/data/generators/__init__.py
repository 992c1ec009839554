"""Candidate generators: anything that answers BBQ questions in free text.

A generator turns normalised BBQ items into candidate rows (schema `candidate`). They are
looked up by name so that the candidates stage, and anyone adding a generator, only needs
`make_generator(name, **options)`. Implementations import lazily: asking for `template`
never imports the inference stack.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Callable, Protocol, runtime_checkable

from bias_judge.core.errors import InputError


@runtime_checkable
class Generator(Protocol):
    """Produces candidate rows for items; the same items and seed give the same rows."""

    def generate(self, items: Sequence[dict], seed: int) -> Iterator[dict]:
        ...


# name -> "module:attribute" (loaded on first use) or a factory registered at run time.
_BUILTIN: dict[str, str] = {
    "template": "bias_judge.data.generators.template:TemplateGenerator",
    "llm": "bias_judge.data.generators.llm:LLMGenerator",
}
_REGISTERED: dict[str, Callable[..., Generator]] = {}


def register(name: str):
    """Decorator: make a generator factory available under `name`."""
    def deco(factory: Callable[..., Generator]):
        _REGISTERED[name] = factory
        return factory
    return deco


def available() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTERED))


def make_generator(name: str, **options) -> Generator:
    if name in _REGISTERED:
        return _REGISTERED[name](**options)
    if name not in _BUILTIN:
        raise InputError(f"unknown generator '{name}' (known: {', '.join(available())})",
                         field="candidates.generator")
    module, attr = _BUILTIN[name].split(":")
    return getattr(importlib.import_module(module), attr)(**options)


def candidate_row(question_id: str, generator: str, text: str, *, truncated: bool,
                  style: str, sample_index: int = 0) -> dict:
    """One candidate in the `candidate` schema; the id is stable across reruns."""
    return {
        "candidate_id": f"{question_id}::{generator}::{sample_index}",
        "question_id": question_id,
        "generator": generator,
        "text": text,
        "truncated": truncated,
        "style": style,
        "sample_index": sample_index,
    }


def count_by(rows: Iterable[dict], *keys: str) -> dict:
    """Nested counts, e.g. count_by(rows, 'generator', 'style') -> {gen: {style: n}}."""
    out: dict = {}
    for row in rows:
        node = out
        for key in keys[:-1]:
            node = node.setdefault(str(row.get(key)), {})
        last = str(row.get(keys[-1]))
        node[last] = node.get(last, 0) + 1
    return out
