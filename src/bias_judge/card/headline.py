"""The eleven headline metrics of docs/metrics.md and how to read them from an eval metrics file.

A metric value is M = {"value", "ci_low", "ci_high", "n"}. A missing key means "not
measured" and renders as a dash; a null or non-finite value with an n was measured but is
undefined there (κ over pairs with a single gold verdict, or over no scored pair) and renders
as "undefined n=…".
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

# The averaged-probability protocol (docs/trust.md), shown beside the greedy one, never
# instead of it: (key in the set's `probability_protocol`, row label, cell kind).
PROBABILITY_ROWS: tuple[tuple[str, str, str], ...] = (
    ("kappa_in_dist", "κ in-dist, averaged verdict probabilities of both orders", "kappa"),
    ("kappa_ood", "κ held-out category, averaged probabilities", "kappa"),
    ("order_agreement_in_dist", "Per-order probability verdicts agree, in-dist", "rate"),
    ("ece", "Expected calibration error (lower is better)", "kappa"),
    ("brier", "Brier score, 0-2 (lower is better)", "kappa"),
)
BY_KEY = {m.key: m for m in METRICS}


@dataclass(frozen=True)
class Measured:
    """One metric of one checkpoint on one eval set. value None with an n: measured but
    undefined; value and n both None: not measured."""
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None

    @property
    def present(self) -> bool:
        return self.value is not None

    @property
    def undefined(self) -> bool:
        return self.value is None and self.n is not None

    @property
    def excludes_zero(self) -> bool | None:
        """Whether the 95 % interval lies wholly on one side of zero; None without one."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return self.ci_low > 0 or self.ci_high < 0


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


@dataclass(frozen=True)
class Confusion:
    """Gold (rows) against the original-order verdict (columns), A / B / TIE; the pairs whose
    reply did not parse, per gold verdict, when the metrics recorded them."""
    matrix: tuple[tuple[int, ...], ...]
    parse_failures: tuple[int, ...] | None = None


@dataclass
class SetMetrics:
    """The metrics of one checkpoint on one eval set."""
    headline: dict[str, Measured]
    per_category: dict[str, Measured]
    n_pairs: int | None
    verbosity_unit: str | None = None  # "whitespace" (words) or the tokenizer used
    confusion: dict[str, Confusion] | None = None    # slice group -> confusion
    replies: tuple[int, int] | None = None  # (parse failures, predictions) over all seven runs
    eval_file: dict | None = None           # {"name", "sha256"} of the set's file
    probability: dict[str, Measured] | None = None  # PROBABILITY_ROWS, when measured
    probability_curves: dict | None = None  # {"reliability": [...], "coverage_agreement": [...]}


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
                               unit if isinstance(unit, str) and unit else None,
                               _confusion(body.get("confusion"), file=file, field=f"{where}.confusion"),
                               _replies(body.get("generation")), _eval_file(body.get("eval_file")),
                               _probability(body.get("probability_protocol"), file=file,
                                            field=f"{where}.probability_protocol"),
                               _curves(body.get("probability_protocol")))
    return out


def _probability(obj, *, file: str, field: str) -> dict[str, Measured] | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise InputError("expected an object", file=file, field=field)
    return {key: read_measured(obj.get(key), file=file, field=f"{field}.{key}")
            for key, _, _ in PROBABILITY_ROWS}


def _curves(obj) -> dict | None:
    """The reliability bins and coverage-agreement points as written (schema eval_metrics)."""
    if not isinstance(obj, dict):
        return None
    return {key: [p for p in obj.get(key) or [] if isinstance(p, dict)]
            for key in ("reliability", "coverage_agreement")}


def _counts(obj, size: int) -> tuple[int, ...] | None:
    if (isinstance(obj, list) and len(obj) == size
            and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in obj)):
        return tuple(obj)
    return None


def _confusion(obj, *, file: str, field: str) -> dict[str, Confusion] | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise InputError("expected an object", file=file, field=field)
    out = {}
    for group in sorted(obj):
        body = obj[group]
        rows = body.get("matrix") if isinstance(body, dict) else None
        matrix = tuple(_counts(r, 3) for r in rows) if isinstance(rows, list) and len(rows) == 3 else None
        if matrix is None or None in matrix:
            raise InputError("expected a 3x3 matrix of counts", file=file, field=f"{field}.{group}.matrix")
        failures = body.get("parse_failures")
        if failures is not None and _counts(failures, 3) is None:
            raise InputError("expected three counts", file=file, field=f"{field}.{group}.parse_failures")
        out[group] = Confusion(matrix, None if failures is None else tuple(failures))
    return out


def _replies(generation) -> tuple[int, int] | None:
    if not isinstance(generation, dict):
        return None
    counts = _counts([generation.get("parse_failures"), generation.get("predictions")], 2)
    return None if counts is None else (counts[0], counts[1])


def _eval_file(obj) -> dict | None:
    if isinstance(obj, dict) and isinstance(obj.get("name"), str) and isinstance(obj.get("sha256"), str):
        return {"name": obj["name"], "sha256": obj["sha256"]}
    return None
