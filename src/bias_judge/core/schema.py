"""Loading the JSON Schemas in `schemas/` and turning violations into (field, message).

Schemas refer to each other by file name (`"$ref": "pair.schema.json"`); every schema's
`$id` is BASE + its file name, and all of them are registered together.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import jsonschema_rs
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource

from bias_judge.core.errors import clip

BASE = "https://bias-judge.local/schemas/"


@lru_cache(maxsize=None)
def _all_schemas() -> tuple[tuple[str, dict], ...]:
    found = []
    for entry in resources.files("bias_judge.schemas").iterdir():
        if entry.name.endswith(".schema.json"):
            found.append((BASE + entry.name, json.loads(entry.read_text("utf-8"))))
    return tuple(sorted(found, key=lambda kv: kv[0]))


@lru_cache(maxsize=None)
def _registry() -> Registry:
    return Registry().with_resources((uri, Resource.from_contents(s)) for uri, s in _all_schemas())


@lru_cache(maxsize=None)
def _rs_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry(list(_all_schemas()))


class SchemaValidator:
    """jsonschema (the reference implementation) for checking schemas and explaining errors;
    jsonschema-rs for the yes/no check on every row, which is ~100x faster and keeps the
    data stages inside their time budget. Both implement draft 2020-12."""

    def __init__(self, schema: dict):
        Draft202012Validator.check_schema(schema)
        self.reference = Draft202012Validator(schema, registry=_registry())
        self._fast = jsonschema_rs.validator_for(schema, registry=_rs_registry())

    def is_valid(self, obj) -> bool:
        return self._fast.is_valid(obj)

    def iter_errors(self, obj):
        return self.reference.iter_errors(obj)


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    text = resources.files("bias_judge.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=None)
def validator_for(name: str) -> SchemaValidator:
    return SchemaValidator(load_schema(name))


def _integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema counts 5.0 as an integer (any number with a zero fraction); a recipe value
# written 5.0 then passes and crashes the stage that counts, slices or seeds with it.
_WholeIntegers = validators.extend(
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _integer))


@lru_cache(maxsize=None)
def strict_validator_for(name: str):
    """The reference validator for `name` where an integer must be written as one (params:
    every error is explained, so it runs the reference implementation anyway)."""
    return _WholeIntegers(load_schema(name), registry=_registry())


def _field_of(error) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        # "'x' is a required property": the field is the missing one.
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    elif error.validator == "additionalProperties" and "'" in error.message:
        path.append(error.message.split("'")[1])
    return ".".join(path) or "<root>"


def message_of(error, quote: int = 60) -> str:
    """The validator's message with the offending value quoted short: the message repeats the
    whole value, however long. Two rules read better said than quoted: text that must not be
    blank, and a list that must hold an item with a given value (answer_choices' letters)."""
    if error.validator == "pattern" and error.validator_value == r"\S":
        return "is empty or only whitespace"
    if error.validator == "contains":
        props = error.validator_value.get("properties", {}) if isinstance(
            error.validator_value, dict) else {}
        consts = [(k, v["const"]) for k, v in props.items() if isinstance(v, dict) and "const" in v]
        if len(consts) == 1:
            key, value = consts[0]
            return f"no item with {key} {value!r} (each must appear once)"
    shown = repr(error.instance)
    if len(shown) > quote and shown in error.message:
        return error.message.replace(shown, clip(shown, quote), 1)
    return error.message


def first_error(validator: SchemaValidator, obj) -> tuple[str, str] | None:
    """The first violation by location, or None."""
    if validator.is_valid(obj):
        return None
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return None
    err = errors[0]
    return _field_of(err), message_of(err)
