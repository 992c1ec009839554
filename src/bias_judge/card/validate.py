"""Offline checks of a model card's YAML front matter.

What the Hub would reject or misread, checked without network: the block parses, the keys
a model page relies on are there, and every `model-index` entry is well formed with a finite
numeric value. Each failure names the key, e.g. `model-index[0].results[1].metrics[3].value`.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import yaml

from bias_judge.core.errors import InputError

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?\n)---\s*(\n|\Z)", re.DOTALL)

REQUIRED_KEYS = ("license", "language", "library_name", "pipeline_tag", "tags", "model-index")


def front_matter(text: str, *, file: str | None = None) -> dict:
    """The parsed YAML block at the top of a card."""
    m = _FRONT_MATTER.match(text)
    if m is None:
        raise InputError("no YAML front matter (the card must start with a '---' block)", file=file)
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 2  # +1 for 1-based, +1 for the opening ---
        raise InputError(f"front matter is not valid YAML ({getattr(exc, 'problem', exc)})",
                         file=file, line=line) from None
    if not isinstance(data, dict):
        raise InputError("front matter must be a mapping", file=file)
    return data


def _need(obj: dict, key: str, where: str, file, kind=str):
    if key not in obj or obj[key] is None:
        raise InputError(f"missing key '{where}{key}'", file=file, field=f"{where}{key}")
    value = obj[key]
    if kind is str and (not isinstance(value, str) or not value.strip()):
        raise InputError("expected a non-empty string", file=file, field=f"{where}{key}")
    if kind is list and (not isinstance(value, list) or not value):
        raise InputError("expected a non-empty list", file=file, field=f"{where}{key}")
    if kind is dict and not isinstance(value, dict):
        raise InputError("expected a mapping", file=file, field=f"{where}{key}")
    return value


def check_front_matter(data: dict, *, file: str | None = None) -> int:
    """Raise InputError naming the first bad key; return the number of metric entries."""
    for key in REQUIRED_KEYS:
        if key not in data or data[key] in (None, "", []):
            raise InputError(f"missing key '{key}'", file=file, field=key)
    for key in ("license", "library_name", "pipeline_tag"):
        _need(data, key, "", file)
    if not isinstance(data["language"], (str, list)):
        raise InputError("expected a string or a list", file=file, field="language")
    tags = _need(data, "tags", "", file, list)
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag:
            raise InputError("expected a non-empty string", file=file, field=f"tags[{i}]")
    if "base_model" in data and not isinstance(data["base_model"], (str, list)):
        raise InputError("expected a model id", file=file, field="base_model")

    index = _need(data, "model-index", "", file, list)
    n_metrics = 0
    for i, model in enumerate(index):
        where = f"model-index[{i}]"
        if not isinstance(model, dict):
            raise InputError("expected a mapping", file=file, field=where)
        _need(model, "name", f"{where}.", file)
        results = _need(model, "results", f"{where}.", file, list)
        for j, result in enumerate(results):
            rw = f"{where}.results[{j}]"
            if not isinstance(result, dict):
                raise InputError("expected a mapping", file=file, field=rw)
            task = _need(result, "task", f"{rw}.", file, dict)
            _need(task, "type", f"{rw}.task.", file)
            dataset = _need(result, "dataset", f"{rw}.", file, dict)
            _need(dataset, "type", f"{rw}.dataset.", file)
            _need(dataset, "name", f"{rw}.dataset.", file)
            metrics = _need(result, "metrics", f"{rw}.", file, list)
            for k, metric in enumerate(metrics):
                mw = f"{rw}.metrics[{k}]"
                if not isinstance(metric, dict):
                    raise InputError("expected a mapping", file=file, field=mw)
                _need(metric, "type", f"{mw}.", file)
                if "value" not in metric:
                    raise InputError(f"missing key '{mw}.value'", file=file, field=f"{mw}.value")
                value = metric["value"]
                if isinstance(value, bool) or not isinstance(value, (int, float)) \
                        or not math.isfinite(value):
                    raise InputError(f"metric value must be a finite number, got {value!r}",
                                     file=file, field=f"{mw}.value")
                n_metrics += 1
    return n_metrics


def validate_card_text(text: str, *, file: str | None = None) -> int:
    """Check a whole card; also let huggingface_hub parse it the way the Hub client would.
    Returns the number of model-index metric entries."""
    data = front_matter(text, file=file)
    n = check_front_matter(data, file=file)
    from huggingface_hub import ModelCard

    try:
        card = ModelCard(text, ignore_metadata_errors=False)
    except Exception as exc:  # the client's own parse is the final word on format
        raise InputError(f"huggingface_hub cannot read the card: {exc}", file=file) from None
    if not card.data.eval_results:
        raise InputError("model-index holds no results huggingface_hub can read", file=file,
                         field="model-index")
    return n


def validate_card_file(path: str | os.PathLike) -> int:
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    return validate_card_text(path.read_text(encoding="utf-8"), file=str(path))
