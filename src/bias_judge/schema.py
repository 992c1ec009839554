"""Loading the JSON Schemas in `schemas/` and turning violations into (field, message).

Schemas refer to each other by file name (`"$ref": "pair.schema.json"`); every schema's
`$id` is BASE + its file name, and all of them are registered together.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

BASE = "https://bias-judge.local/schemas/"


@lru_cache(maxsize=None)
def _registry() -> Registry:
    resources_ = []
    for entry in resources.files("bias_judge.schemas").iterdir():
        if entry.name.endswith(".schema.json"):
            schema = json.loads(entry.read_text("utf-8"))
            resources_.append((BASE + entry.name, Resource.from_contents(schema)))
    return Registry().with_resources(resources_)


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    text = resources.files("bias_judge.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=None)
def validator_for(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def _field_of(error) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        # "'x' is a required property": the field is the missing one.
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    elif error.validator == "additionalProperties" and "'" in error.message:
        path.append(error.message.split("'")[1])
    return ".".join(path) or "<root>"


def first_error(validator: Draft202012Validator, obj) -> tuple[str, str] | None:
    """The most specific violation, or None. Deterministic: sorted by location."""
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return None
    err = errors[0]
    return _field_of(err), err.message
