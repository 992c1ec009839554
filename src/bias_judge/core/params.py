"""Reading and validating params.yaml before any stage runs."""

from __future__ import annotations

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
    validate_params(params, source=str(path))
    return params


def validate_params(params: dict, source: str = "params.yaml") -> None:
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
