"""Typed settings: one pydantic model per params section, the one place where a key's type,
enum, range and meaning are written.

A settings class subclasses `Section`: its fields are the keys of one params section, with
nested models for nested sections (`candidates.llm`, `sft.lora`) and TypedDicts where the code
wants a plain mapping with fixed keys (`pairs.quotas`). Fields have no defaults: every value
comes from params.yaml (or a profile merged onto it), so the recipe is written in one place.
`schemas/params.schema.json` is generated from these models (`bias-judge params-schema`,
tools/params_schema.py); tests/test_params_schema.py fails when the committed file differs.

A stage declares what it reads as `{dotted key: type}`: a settings class for a whole section
(`"sample": SampleSettings`), or a plain type for one value (`"split.ood_category": str`).
`read_settings` gives it exactly those and nothing else, so the declaration is the truth
that tests/test_dvc_contract.py holds dvc.yaml's `params:` against.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypedDict

from bias_judge.core.errors import InputError
from bias_judge.core.params import load_params
from bias_judge.core.vocabulary import LOCAL_ENGINES
from bias_judge.core.vocabulary import Dtype, Precision  # noqa: F401  (re-exported)

T = TypeVar("T")


class Section(BaseModel):
    """A params section: unknown keys refused, no value coerced from another type (YAML's
    `"3"` is not 3), immutable once built."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FixedKeys(TypedDict):
    """Base of the mappings with fixed keys (stay plain dicts in the code)."""
    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]


# Words several sections share.
NonEmptyStr = Annotated[str, Field(min_length=1)]
RepoId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")]
Seed = Annotated[int, Field(ge=0)]


def one_of(values) -> Any:
    """A Literal of the words a vocabulary tuple holds (core/vocabulary.py), so an enum is
    written once."""
    return Literal.__getitem__(tuple(values))


class EngineOptions(TypedDict, total=False):
    """Passed to the inference engine: vLLM reads enforce_eager and max_num_batched_tokens,
    transformers reads threads, openai reads concurrency (requests in flight) and max_retries
    (per request, with back-off); ray reads the ray_* keys and passes the others to its
    workers' engines. Every key may be left out."""
    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]
    enforce_eager: bool
    max_num_batched_tokens: Annotated[int, Field(ge=1)] | None
    threads: Annotated[int, Field(ge=1)] | None
    concurrency: Annotated[int, Field(ge=1)] | None
    max_retries: Annotated[int, Field(ge=0)] | None
    ray_address: Annotated[str | None, Field(description=(
        "ray: the cluster (ray://host:10001 or an address `ray start` printed); null: "
        "RAY_ADDRESS, else a local cluster started for the run"))]
    ray_workers: Annotated[int | None, Field(ge=1, description="ray: workers, each holding one engine")]
    ray_engine: Annotated[one_of(LOCAL_ENGINES) | None,
                          Field(description="ray: the in-process engine each worker runs")]
    ray_cpus_per_worker: Annotated[float | None, Field(gt=0, description="ray: CPUs the cluster reserves per worker")]


def _bucket_counts() -> Any:
    from bias_judge.core.vocabulary import BUCKETS

    counts = TypedDict("BucketCounts", {b: Annotated[int, Field(ge=0)] for b in BUCKETS})
    counts.__pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[attr-defined]
    return counts


# bucket -> a number of pairs, every bucket named (pairs.quotas, split.in_dist).
BucketCounts = _bucket_counts()


def _unique(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("items must be unique")
    return values


def unique_list(item: Any, **constraints) -> Any:
    """A list type whose items must differ (JSON Schema `uniqueItems`)."""
    return Annotated[list[item], AfterValidator(_unique),
                     Field(json_schema_extra={"uniqueItems": True}, **constraints)]


def is_settings(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _first_error(exc: ValidationError, where: str) -> InputError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    key = f"{where}.{loc}" if loc else where
    if err["type"] == "missing":
        return InputError(f"missing key '{key}'", field=key)
    if err["type"] == "extra_forbidden":
        return InputError(f"unknown key '{key}' (the code has no such setting)", field=key)
    return InputError(f"bad value for '{key}': {err['msg']}", field=key)


def build(cls: type[T], values: Any, where: str) -> T:
    """`cls` from the params mapping found at `where` (a dotted key, for error messages)."""
    if not isinstance(values, Mapping):
        raise InputError("expected a mapping", field=where)
    try:
        return cls.model_validate(dict(values))  # type: ignore[attr-defined]
    except ValidationError as exc:
        raise _first_error(exc, where) from None


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
    return settings.model_dump(mode="python")


def replace(settings: T, **changes) -> T:
    """A copy of a settings object with some values changed, validated again."""
    return type(settings).model_validate({**settings.model_dump(mode="python"), **changes})
