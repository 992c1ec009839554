"""Candidate generators: anything that answers BBQ questions in free text.

A generator turns normalised BBQ items into candidate rows (schema `candidate`). They are
looked up by name so that the candidates stage, and anyone adding a generator, only needs
`make_generator(name, **options)`. Implementations import lazily: asking for `template`
never imports the inference stack.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Callable, Literal, Protocol, runtime_checkable

from pydantic import Field

from bias_judge.core import jsonio
from bias_judge.core.artifacts import Output, Sidecar, StageResult, beside, checksums, count_by
from bias_judge.core.errors import InputError
from bias_judge.core.settings import (Dtype, EngineOptions, NonEmptyStr, Section, Seed, as_params,
                                     one_of)
from bias_judge.core.vocabulary import LOCAL_ENGINES


class LLMSettings(Section):
    """params `candidates.llm`: the keyword arguments of the llm generator."""
    models: list[NonEmptyStr] = Field(min_length=1, description="model folders, each answering every question")
    samples_per_question: int = Field(ge=1)
    temperature: float = Field(ge=0)
    max_new_tokens: int = Field(ge=1)
    engine: one_of(LOCAL_ENGINES)
    dtype: Dtype
    max_model_len: int = Field(ge=16)
    batch_size: int = Field(ge=1, description="questions per engine call")
    choose_one: bool = Field(description=(
        "an answer that names no option is continued greedily into <answer>X</answer> (vLLM "
        "structured outputs), so that every candidate chooses one"))
    engine_options: EngineOptions


class CandidateSettings(Section):
    """params section `candidates`."""
    generator: Literal["template", "llm"]
    seed: Seed
    llm: LLMSettings = Field(description="read by the llm generator only")


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


def generate_candidates(sample_path: str | os.PathLike, out: str | os.PathLike,
                        s: CandidateSettings) -> StageResult:
    """The candidates stage: answer every sampled question with the configured generator."""
    items = jsonio.read_jsonl(sample_path, schema="bbq_item")
    options = as_params(s.llm) if s.generator == "llm" else {}
    rows = list(make_generator(s.generator, **options).generate(items, seed=s.seed))
    meta_path, name = beside(out)
    counts = {
        "questions": len(items),
        "by_generator": count_by(rows, "generator"),
        "by_generator_style": count_by(rows, "generator", "style"),
        "truncated": sum(r["truncated"] for r in rows),
    }
    return StageResult(
        outputs=[Output(Path(out), rows, "candidate", jsonl=True)],
        sidecars=[Sidecar(meta_path, name, rows=len(rows), seed=s.seed, counts=counts,
                          inputs=checksums(sample_path), params=as_params(s), warnings=[])],
        summary=f"{len(rows)} responses to {len(items)} questions ({s.generator}) -> {out}")
