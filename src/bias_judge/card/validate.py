"""Offline checks of a model card: its front matter read the way huggingface_hub reads it,
held against schemas/card_front_matter.schema.json, and its model-index turned into eval
results by huggingface_hub itself. Each failure names the key, e.g.
`model-index[0].results[1].metrics[3].value`. A dataset card (front matter with `configs` and
no model-index) is held against schemas/dataset_card_front_matter.schema.json and read back
through huggingface_hub's DatasetCard.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import yaml

from bias_judge.core.errors import InputError
from bias_judge.core.schema import first_error, validator_for


def front_matter(text: str, *, file: str | None = None) -> dict:
    """The parsed YAML block at the top of a card, delimited as huggingface_hub does."""
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    m = REGEX_YAML_BLOCK.search(text)
    if m is None:
        raise InputError("no YAML front matter (the card must start with a '---' block)", file=file)
    try:
        data = yaml.safe_load(m.group(2))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 2  # +1 for 1-based, +1 for the opening ---
        raise InputError(f"front matter is not valid YAML ({getattr(exc, 'problem', exc)})",
                         file=file, line=line) from None
    if not isinstance(data, dict):
        raise InputError("front matter must be a mapping", file=file)
    return data


def _key(field: str) -> str:
    """`model-index.0.results.1` -> `model-index[0].results[1]`."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", field)


def _check_schema(schema: str, data: dict, file: str | None) -> None:
    err = first_error(validator_for(schema), data)
    if err is not None:
        field, message = _key(err[0]), err[1]
        if message.endswith("is a required property"):
            message = f"missing key '{field}'"
        raise InputError(message, file=file, field=field)


def check_front_matter(data: dict, *, file: str | None = None) -> int:
    """InputError naming the first bad key; else the number of model-index metrics."""
    _check_schema("card_front_matter", data, file)
    from huggingface_hub.repocard_data import model_index_to_eval_results

    _, results = model_index_to_eval_results(data["model-index"])
    for i, model in enumerate(data["model-index"]):
        for j, result in enumerate(model["results"]):
            for k, metric in enumerate(result["metrics"]):
                if not math.isfinite(metric["value"]):
                    raise InputError(f"metric value must be a finite number, got {metric['value']!r}",
                                     file=file, field=f"model-index[{i}].results[{j}].metrics[{k}].value")
    return len(results)


def validate_card_text(text: str, *, file: str | None = None) -> int:
    """Check a whole card; returns the number of model-index metric entries."""
    n = check_front_matter(front_matter(text, file=file), file=file)
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


def is_dataset_card(text: str) -> bool:
    """A card whose front matter has data-file configs and no model-index."""
    try:
        data = front_matter(text)
    except InputError:
        return False
    return "configs" in data and "model-index" not in data


def validate_dataset_card_text(text: str, *, file: str | None = None) -> int:
    """Check a whole dataset card; returns the number of configs."""
    data = front_matter(text, file=file)
    _check_schema("dataset_card_front_matter", data, file)
    from huggingface_hub import DatasetCard

    try:
        card = DatasetCard(text, ignore_metadata_errors=False)
    except Exception as exc:  # the client's own parse is the final word on format
        raise InputError(f"huggingface_hub cannot read the card: {exc}", file=file) from None
    return len(card.data.to_dict().get("configs") or [])


def validate_dataset_card_file(path: str | os.PathLike) -> int:
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    return validate_dataset_card_text(path.read_text(encoding="utf-8"), file=str(path))
