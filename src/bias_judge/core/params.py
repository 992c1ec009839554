"""Reading and validating params.yaml before any stage runs."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import yaml

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import read_text
from bias_judge.core.schema import message_of, strict_validator_for


class YAML12Loader(yaml.SafeLoader):
    """PyYAML's safe loader reading numbers as YAML 1.2 does. PyYAML follows YAML 1.1, where
    `5e-05` (no dot) is a string; DVC writes floats that way (`dvc exp run -S
    dpo.learning_rate=0.00005` stores `5e-05`), and a number must stay a number."""


YAML12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+][0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def _mapping_without_duplicates(loader: YAML12Loader, node, deep: bool = False):
    # PyYAML keeps the last of two equal keys; DVC refuses the same file, and a recipe whose
    # second `learning_rate` silently wins is not the recipe its reader sees.
    lines: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            first = lines.setdefault(key, line)
        except TypeError:  # an unhashable key: the base constructor says what is wrong
            continue
        if first != line:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first on line {first})", key_node.start_mark)
    return loader.construct_mapping(node, deep=deep)


YAML12Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                             _mapping_without_duplicates)


def load_yaml(text: str):
    """Parse params-style YAML (params.yaml, profiles) with YAML 1.2 numbers."""
    return yaml.load(text, Loader=YAML12Loader)


def load_params(path: str | os.PathLike) -> dict:
    """Parse and validate the whole params file; a misspelt key or wrong type names the key."""
    path = Path(path)
    if not path.exists():
        raise InputError("params file not found (run where params.yaml is, or pass --params)",
                         file=str(path))
    text = read_text(path)
    try:
        params = load_yaml(text) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(f"not valid YAML ({getattr(exc, 'problem', exc)})", file=str(path),
                         line=None if line is None else line + 1) from None
    try:
        validate_params(params, source=str(path))
    except InputError as exc:
        if exc.line is None and exc.field:
            exc = InputError(exc.message, file=exc.file, line=line_of(text, exc.field),
                             field=exc.field)
        raise exc from None
    return params


def line_of(text: str, dotted: str) -> int | None:
    """The line of a dotted key in YAML text (of its nearest existing parent when the key
    itself is missing), or None."""
    try:
        node = yaml.compose(text, Loader=YAML12Loader)
    except yaml.YAMLError:
        return None
    line = None
    for part in dotted.split("."):
        if not isinstance(node, yaml.MappingNode):
            break
        found = next(((k, v) for k, v in node.value if str(k.value) == part), None)
        if found is None:
            break
        line = found[0].start_mark.line + 1
        node = found[1]
    return line


def _non_finite(node, where: str = ""):
    """The dotted key of the first NaN or infinity in `node`, or None."""
    if isinstance(node, float) and not math.isfinite(node):
        return where or "<root>"
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for k, v in items:
        found = _non_finite(v, f"{where}.{k}" if where else str(k))
        if found:
            return found
    return None


def validate_params(params: dict, source: str = "params.yaml") -> None:
    # JSON Schema's minimum/maximum say nothing about NaN (every comparison with it is
    # false), so `.nan` passed the ranges and died deep in TRL; refused first, everywhere.
    key = _non_finite(params)
    if key is not None:
        value = _lookup(params, key)
        raise InputError(f"bad value for '{key}': {value} is not a finite number", file=source,
                         field=key)
    validator = strict_validator_for("params")
    errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    err = errors[0]
    path = [str(p) for p in err.absolute_path]
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        key = ".".join(path + [extra[0]]) if extra else ".".join(path)
        raise InputError(f"unknown key '{key}' (misspelt?)", file=source, field=key)
    if err.validator == "required":
        missing = err.message.split("'")[1]
        key = ".".join(path + [missing])
        raise InputError(f"missing key '{key}'", file=source, field=key)
    key = ".".join(path) or "<root>"
    raise InputError(f"bad value for '{key}': {message_of(err)}", file=source, field=key)


def _lookup(tree, dotted: str):
    node = tree
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node
