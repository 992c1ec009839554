"""The eleven headline metrics of SPEC §8 and how to read them from an eval metrics file.

A metric value is M = {"value", "ci_low", "ci_high", "n"}; a missing key, a null or a
non-finite number all mean "not measured" and render as a dash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bias_judge.core.errors import InputError
from bias_judge.core.vocabulary import IN_DIST, OOD

COLUMN_LABELS = {"base": "Base", "sft": "SFT", "dpo": "SFT+DPO"}


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str         # table row and model-index metric name
    short: str         # in running text
    kind: str          # kappa | rate | tokens
    better: str        # higher | lower | none (diagnostic, not ranked)
    scope: str         # in_dist | ood | all
    index_type: str    # model-index metric `type`


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("kappa_in_dist", "κ, in-distribution slice", "κ in-dist", "kappa", "higher",
               IN_DIST, "cohen_kappa"),
    MetricSpec("kappa_ood", "κ, held-out category slice", "κ OOD", "kappa", "higher", OOD,
               "cohen_kappa"),
    MetricSpec("kappa_clear", "κ, clear bias vs clean", "κ clear-bias", "kappa", "higher", IN_DIST,
               "cohen_kappa"),
    MetricSpec("kappa_subtle", "κ, hedged bias vs clean", "κ subtle-bias", "kappa", "higher",
               IN_DIST, "cohen_kappa"),
    MetricSpec("kappa_tracked", "κ, stereotype answer vs other wrong answer", "κ tracked-bias",
               "kappa", "higher", IN_DIST, "cohen_kappa"),
    MetricSpec("kappa_tie", "κ, both clean (TIE expected)", "κ tie", "kappa", "higher", IN_DIST,
               "cohen_kappa"),
    MetricSpec("position_bias_in_dist", "Position bias, in-distribution (lower is better)",
               "position bias in-dist", "rate", "lower", IN_DIST, "position_bias_rate"),
    MetricSpec("position_bias_ood", "Position bias, held-out category (lower is better)",
               "position bias OOD", "rate", "lower", OOD, "position_bias_rate"),
    # No better direction: when the biased responses of the gold are the longer ones, a
    # perfect judge also scores positive. It is reported, never used to rank checkpoints.
    MetricSpec("verbosity_bias", "Verbosity bias (+ = names the longer response)",
               "verbosity bias", "tokens", "none", "all", "verbosity_bias"),
    MetricSpec("self_consistency", "Self-consistency of 5 samples at T = 0.3", "self-consistency",
               "rate", "higher", "all", "self_consistency_rate"),
    MetricSpec("parse_failure_rate", "Parse failures (lower is better)", "parse failures", "rate",
               "lower", "all", "parse_failure_rate"),
)
METRIC_KEYS = tuple(m.key for m in METRICS)
BY_KEY = {m.key: m for m in METRICS}


@dataclass(frozen=True)
class Measured:
    """One metric of one checkpoint on one eval set; value None = not measured."""
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None

    @property
    def present(self) -> bool:
        return self.value is not None


MISSING = Measured(None, None, None, None)


def _finite(x, *, file: str, field: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InputError(f"expected a number or null, got {type(x).__name__}", file=file, field=field)
    return float(x) if math.isfinite(x) else None


def read_measured(obj, *, file: str, field: str) -> Measured:
    """An M object (or a bare number) as Measured; anything else is an InputError."""
    if obj is None:
        return MISSING
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return Measured(_finite(obj, file=file, field=field), None, None, None)
    if not isinstance(obj, dict):
        raise InputError("expected a metric object {value, ci_low, ci_high, n}", file=file, field=field)
    value = _finite(obj.get("value"), file=file, field=f"{field}.value")
    low = _finite(obj.get("ci_low"), file=file, field=f"{field}.ci_low")
    high = _finite(obj.get("ci_high"), file=file, field=f"{field}.ci_high")
    n = obj.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise InputError("expected a non-negative integer", file=file, field=f"{field}.n")
    return Measured(value, low, high, n)


@dataclass
class SetMetrics:
    """The metrics of one checkpoint on one eval set."""
    headline: dict[str, Measured]
    per_category: dict[str, Measured]
    n_pairs: int | None
    verbosity_unit: str | None = None  # "whitespace" (words) or the tokenizer used


def read_eval_file(obj, *, file: str, checkpoint: str) -> dict[str, SetMetrics]:
    """metrics/eval_<checkpoint>.json -> {set name: SetMetrics}."""
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", file=file)
    declared = obj.get("checkpoint")
    if declared is not None and declared != checkpoint:
        raise InputError(f"holds checkpoint '{declared}', expected '{checkpoint}'", file=file,
                         field="checkpoint")
    sets = obj.get("sets")
    if not isinstance(sets, dict) or not sets:
        raise InputError("expected a non-empty object of eval sets", file=file, field="sets")
    out: dict[str, SetMetrics] = {}
    for name in sorted(sets):
        body = sets[name]
        where = f"sets.{name}"
        if not isinstance(body, dict):
            raise InputError("expected an object", file=file, field=where)
        headline = {k: read_measured(body.get(k), file=file, field=f"{where}.{k}") for k in METRIC_KEYS}
        cats = body.get("kappa_per_category") or {}
        if not isinstance(cats, dict):
            raise InputError("expected an object", file=file, field=f"{where}.kappa_per_category")
        per_category = {c: read_measured(cats[c], file=file, field=f"{where}.kappa_per_category.{c}")
                        for c in sorted(cats)}
        n_pairs = body.get("n_pairs")
        if n_pairs is not None and (isinstance(n_pairs, bool) or not isinstance(n_pairs, int)):
            raise InputError("expected an integer", file=file, field=f"{where}.n_pairs")
        unit = body.get("verbosity_tokenizer")
        out[name] = SetMetrics(headline, per_category, n_pairs,
                               unit if isinstance(unit, str) and unit else None)
    return out
