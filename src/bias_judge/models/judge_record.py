"""`bias_judge.json`: how a trained checkpoint must be queried, written into its merged folder.

A judge answers well only with the prompt it was trained on, and with a reply budget that fits
the replies it learned. The params file says both, but a downloaded checkpoint, the demo, the
Space and the Ollama export see only the folder, so the sft and dpo stages write the settings
there too (schema `judge_record`).

Precedence where a command queries a folder that has the file: an option the user gives
(`--prompt-style`, `--max-new-tokens`) is used as given; otherwise the folder's value is used
over the params file's. Either way a value that differs from the folder's gets one warning
naming both. A folder without the file (older checkpoints, a plain base model) is queried with
the params' values, as before the file existed.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import read_json, write_json
from bias_judge.core.schema import first_error, validator_for

RECORD_FILE = "bias_judge.json"
SCHEMA = "judge_record"
VERSION = 1

# The recorded settings a query takes, with the params key and the option that also give them.
QUERY_PARAMS = {"prompt_style": "prompt.style", "max_new_tokens": "eval.max_new_tokens"}
QUERY_OPTIONS = {"prompt_style": "--prompt-style", "max_new_tokens": "--max-new-tokens"}
_WORDS = {"prompt_style": "prompt style", "max_new_tokens": "max new tokens"}
# Where each recorded field comes from, so that a bad value names the param to fix.
_SOURCES = {**QUERY_PARAMS, "reasoning": "label.reasoning", "chat_template": "model.chat_template"}


def record_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / RECORD_FILE


def build_record(checkpoint: str, *, prompt_style: str, labeler: str, reasoning: str,
                 max_new_tokens: int, chat_template: str | None) -> dict:
    """The record of a run with these params, checked against the schema now: a bad value
    stops the stage before training, not after it."""
    record = {
        "version": VERSION,
        "checkpoint": checkpoint,
        "prompt_style": prompt_style,
        # label.reasoning only shapes the rule teacher's labels; imported ones bring their own.
        "reasoning": reasoning if labeler == "rule" else "imported",
        "max_new_tokens": max_new_tokens,
        # The name only: the file's folder is the build machine's, and the template itself
        # is in the checkpoint's tokenizer files.
        "chat_template": {"source": "override" if chat_template else "base",
                          "file": Path(chat_template).name if chat_template else None},
    }
    err = first_error(validator_for(SCHEMA), record)
    if err is not None:
        field = err[0].split(".")[0] if err[0] else None
        raise InputError(f"cannot be recorded in {RECORD_FILE}: {err[1]}",
                         field=_SOURCES.get(field, field))
    return record


def write_record(folder: str | os.PathLike, record: dict) -> Path:
    path = record_path(folder)
    write_json(path, record, schema=SCHEMA)
    return path


def read_record(folder: str | os.PathLike) -> dict | None:
    """The folder's record, or None when it has none. A file that is there but malformed is a
    one-line InputError naming it and the field: guessing a prompt would give wrong verdicts
    without a word."""
    path = record_path(folder)
    if not path.exists() and not path.is_symlink():
        return None
    record = read_json(path)
    version = record.get("version") if isinstance(record, dict) else None
    if isinstance(version, int) and version != VERSION:
        raise InputError(f"version {version}, but this bias-judge reads version {VERSION} "
                         f"(written by another release of it)", file=str(path), field="version")
    err = first_error(validator_for(SCHEMA), record)
    if err is not None:
        raise InputError(err[1], file=str(path), field=err[0])
    return record


def apply_record(folder: str | os.PathLike, values: Mapping[str, object], *,
                 explicit: Collection[str] = (), names: Mapping[str, str] = QUERY_PARAMS,
                 options: Mapping[str, str] | None = QUERY_OPTIONS
                 ) -> tuple[dict, list[str]]:
    """(values to query the folder with, warnings). `values` are the configured ones, keyed as
    in QUERY_PARAMS; those in `explicit` were given by the user and are kept. `names` says
    where the others came from (params keys by default); `options`, which option would
    override the folder (None where there is none)."""
    record = read_record(folder)
    out = dict(values)
    if record is None:
        return out, []
    path, warnings = record_path(folder), []
    for key, given in values.items():
        if key not in QUERY_PARAMS:
            continue
        recorded = record[key]
        if given == recorded:
            continue
        what = _WORDS[key]
        if key in explicit:
            warnings.append(f"{QUERY_OPTIONS[key]} {given} differs from {recorded}, the {what} "
                            f"{path} records for this checkpoint; using {given}, as given")
        else:
            hint = f" (pass {options[key]} {given} to use it)" if options and key in options else ""
            warnings.append(f"{names[key]} is {given}, but {path} records {what} {recorded} "
                            f"for this checkpoint; using {recorded}{hint}")
            out[key] = recorded
    return out, warnings


__all__ = ["QUERY_OPTIONS", "QUERY_PARAMS", "RECORD_FILE", "VERSION", "apply_record",
           "build_record", "read_record", "record_path", "write_record"]
