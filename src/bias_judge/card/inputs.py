"""Reading everything a card is built from, with one-line errors for what is missing.

Required: the three eval metrics files, the two training summaries and the base model
summary. Optional (their card sections say "not recorded" without them): the gold-quality
report, the probe metrics of the released checkpoints, and the data sidecars (ingest: where the questions came from; pairs, split, labels and
rows: counts and checksums).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import read_json
from bias_judge.card.headline import SetMetrics, read_eval_file
from bias_judge.core.vocabulary import CHECKPOINTS


@dataclass
class CardInputs:
    evals: dict[str, dict[str, SetMetrics]]   # checkpoint -> eval set -> metrics
    train: dict[str, dict]                     # "sft" / "dpo" -> training summary
    base_model: dict
    gold_quality: dict | None = None
    pairs_meta: dict | None = None
    split_meta: dict | None = None
    rows_meta: dict | None = None
    bbq_meta: dict | None = None
    labels_meta: dict | None = None
    eval_precision: dict[str, dict | None] | None = None  # checkpoint -> its eval's precision
    probes: dict[str, dict] | None = None      # released checkpoint -> probe_<c>.json


def _required(path: Path) -> dict:
    if not path.is_file():
        raise InputError("required card input not found (run the stage that writes it)", file=str(path))
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", file=str(path))
    return obj


def _optional(path: Path) -> dict | None:
    if not path.is_file():
        return None
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", file=str(path))
    return obj


def load_inputs(metrics_dir: str | os.PathLike, data_dir: str | os.PathLike) -> CardInputs:
    metrics_dir, data_dir = Path(metrics_dir), Path(data_dir)
    evals, eval_precision = {}, {}
    for ckpt in CHECKPOINTS:
        path = metrics_dir / f"eval_{ckpt}.json"
        raw = _required(path)
        evals[ckpt] = read_eval_file(raw, file=str(path), checkpoint=ckpt)
        eval_precision[ckpt] = raw.get("precision") if isinstance(raw.get("precision"), dict) else None
    train = {stage: _required(metrics_dir / f"train_{stage}.json") for stage in ("sft", "dpo")}
    base_model = _required(metrics_dir / "base_model.json")
    return CardInputs(
        evals=evals,
        train=train,
        base_model=base_model,
        gold_quality=_optional(metrics_dir / "gold_quality.json"),
        pairs_meta=_optional(data_dir / "pairs.meta.json"),
        split_meta=_optional(data_dir / "split" / "split.meta.json"),
        rows_meta=_optional(data_dir / "rows" / "rows.meta.json"),
        bbq_meta=_optional(data_dir / "bbq.meta.json"),
        labels_meta=_optional(data_dir / "labels.meta.json"),
        eval_precision=eval_precision,
        probes=_probes(metrics_dir),
    )


def _probes(metrics_dir: Path) -> dict[str, dict] | None:
    """metrics/probe_<c>.json of the released checkpoints that have one, schema-checked."""
    from bias_judge.core.schema import first_error, validator_for
    from bias_judge.core.vocabulary import RELEASED

    out = {}
    for ckpt in RELEASED:
        path = metrics_dir / f"probe_{ckpt}.json"
        doc = _optional(path)
        if doc is None:
            continue
        err = first_error(validator_for("probe_metrics"), doc)
        if err is not None:
            raise InputError(f"fails schema probe_metrics: {err[1]}", file=str(path), field=err[0])
        out[ckpt] = doc
    return out or None
