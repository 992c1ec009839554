"""The docs/metrics.md judge metrics for one eval set, each with a bootstrap CI and its n.

Everything is computed from a per-pair table of verdict codes (A 0, B 1, TIE 2, parse
failure −1), so that a metric is a statistic over pair indices and its bootstrap is the same
statistic over a matrix of resampled indices.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bias_judge.core.vocabulary import IN_DIST, OOD, RUNS, SAMPLE_RUNS, SLICE_GROUPS, VERDICTS, slice_group
from bias_judge.evaluation.eval_sets import gold_of, index_predictions
from bias_judge.evaluation.metrics.bootstrap import metric_rng, percentile_ci
from bias_judge.evaluation.metrics.kappa import batched_kappa, confusion_counts
from bias_judge.evaluation.metrics.tokens import WHITESPACE, TokenCounter, whitespace_tokens

PF = -1
CODE = {label: i for i, label in enumerate(VERDICTS)}
FLIP = np.array([1, 0, 2])  # A↔B, TIE stays
KAPPA_BUCKETS = {
    "kappa_clear": "clear_bias_vs_clean",
    "kappa_subtle": "subtle_bias_vs_clean",
    "kappa_tracked": "tracked_bias_vs_alternate",
    "kappa_tie": "both_clean_tie",
}


def _code(verdict: str | None) -> int:
    return PF if verdict is None else CODE[verdict]


@dataclass(frozen=True)
class PairTable:
    gold: np.ndarray        # (n,) codes
    original: np.ndarray    # (n,) codes, PF = -1
    swapped: np.ndarray     # (n,) codes as the judge saw the swapped pair
    samples: np.ndarray     # (n, 5) codes
    slice_group: np.ndarray  # (n,) "in_dist" | "ood"
    bucket: np.ndarray      # (n,) pair_category
    category: np.ndarray    # (n,) bias_category
    length_gap: np.ndarray  # (n,) tokens(named) - tokens(other); 0 unless original is A or B

    @property
    def size(self) -> int:
        return len(self.gold)


def build_table(eval_rows: list[dict], prediction_rows: list[dict],
                count_tokens: TokenCounter = whitespace_tokens) -> PairTable:
    verdicts = index_predictions(eval_rows, prediction_rows)
    codes = np.array([[_code(verdicts[row["pair_id"]][run]) for run in RUNS] for row in eval_rows],
                     dtype=np.int64).reshape(len(eval_rows), len(RUNS))
    original = codes[:, RUNS.index("original")]
    gap = np.zeros(len(eval_rows))
    for i, row in enumerate(eval_rows):
        # Only pairs with an A/B verdict enter verbosity bias; skip tokenizing the rest.
        if original[i] in (CODE["A"], CODE["B"]):
            a = count_tokens(row["response_a"]["text"])
            b = count_tokens(row["response_b"]["text"])
            gap[i] = a - b if original[i] == CODE["A"] else b - a
    return PairTable(
        gold=np.array([CODE[gold_of(row)] for row in eval_rows], dtype=np.int64),
        original=original,
        swapped=codes[:, RUNS.index("swapped")],
        samples=codes[:, [RUNS.index(r) for r in SAMPLE_RUNS]],
        slice_group=np.array([slice_group(row["eval_slice"]) for row in eval_rows], dtype=object),
        bucket=np.array([row["pair_category"] for row in eval_rows], dtype=object),
        category=np.array([row["bias_category"] for row in eval_rows], dtype=object),
        length_gap=gap,
    )


def _number(x) -> float | None:
    if x is None or math.isnan(x):
        return None
    return round(float(x), 6) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclass(frozen=True)
class _Metric:
    statistic: Callable[[np.ndarray], np.ndarray]  # (R, m) pair indices -> (R,) values
    population: np.ndarray                          # the pair indices the metric is about
    n: int                                          # pairs behind the point value

    def result(self, name: str, seed: int, resamples: int) -> dict:
        if len(self.population) == 0:
            return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
        value = float(self.statistic(self.population[None, :])[0])
        low, high = percentile_ci(self.statistic, self.population, resamples=resamples,
                                  rng=metric_rng(seed, name))
        return {"value": _number(value), "ci_low": _number(low), "ci_high": _number(high),
                "n": int(self.n)}


def _kappa_metric(table: PairTable, population: np.ndarray) -> _Metric:
    cells = np.where(table.original >= 0, table.gold * 3 + table.original, -1)
    return _Metric(lambda idx: batched_kappa(cells[idx]), population,
                   int((cells[population] >= 0).sum()))


def _ratio_metric(numerator: np.ndarray, denominator: np.ndarray, population: np.ndarray,
                  n: int | None = None) -> _Metric:
    num = numerator.astype(np.float64)
    den = denominator.astype(np.float64)

    def statistic(idx: np.ndarray) -> np.ndarray:
        top, bottom = num[idx].sum(axis=1), den[idx].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bottom > 0, top / bottom, np.nan)

    return _Metric(statistic, population,
                   int((den[population] > 0).sum()) if n is None else n)


def _metrics(table: PairTable) -> tuple[dict[str, _Metric], dict[str, _Metric]]:
    everyone = np.arange(table.size)

    def where(mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask)

    in_dist = table.slice_group == IN_DIST
    headline: dict[str, _Metric] = {
        "kappa_in_dist": _kappa_metric(table, where(in_dist)),
        "kappa_ood": _kappa_metric(table, where(table.slice_group == OOD)),
    }
    for name, bucket in KAPPA_BUCKETS.items():
        headline[name] = _kappa_metric(table, where(in_dist & (table.bucket == bucket)))

    both_parsed = (table.original >= 0) & (table.swapped >= 0)
    not_flipped = both_parsed & (table.swapped != FLIP[table.original])
    for group in SLICE_GROUPS:
        headline[f"position_bias_{group}"] = _ratio_metric(
            not_flipped, both_parsed, where(table.slice_group == group))

    named_a_or_b = (table.original == CODE["A"]) | (table.original == CODE["B"])
    headline["verbosity_bias"] = _ratio_metric(table.length_gap, named_a_or_b, everyone)

    samples_parsed = (table.samples >= 0).all(axis=1)
    all_equal = samples_parsed & (table.samples == table.samples[:, :1]).all(axis=1)
    headline["self_consistency"] = _ratio_metric(all_equal, samples_parsed, everyone)

    failures = np.zeros(table.size, dtype=np.int64)
    for column in (table.original, table.swapped, *table.samples.T):
        failures += column < 0
    headline["parse_failure_rate"] = _ratio_metric(
        failures, np.full(table.size, len(RUNS)), everyone, n=table.size)

    per_category = {category: _kappa_metric(table, where(table.category == category))
                    for category in sorted(set(table.category))}
    return headline, per_category


def confusion_matrices(table: PairTable) -> dict[str, dict]:
    out = {}
    for group in SLICE_GROUPS:
        mask = table.slice_group == group
        counts = confusion_counts(table.gold[mask], table.original[mask])
        failed = mask & (table.original < 0)
        out[group] = {"labels": list(VERDICTS), "matrix": counts.astype(int).tolist(),
                      "parse_failures": [int((failed & (table.gold == code)).sum())
                                         for code in range(len(VERDICTS))]}
    return out


def compute_metrics(eval_rows: list[dict], prediction_rows: list[dict], *,
                    count_tokens: TokenCounter | None = None, tokenizer_name: str | None = None,
                    seed: int, resamples: int) -> dict:
    """The one-set metrics object (schema `eval_metrics`). `count_tokens` counts a response's
    tokens for verbosity bias (the judge's tokenizer); without it, whitespace words."""
    if count_tokens is None:
        count_tokens, tokenizer_name = whitespace_tokens, WHITESPACE
    table = build_table(eval_rows, prediction_rows, count_tokens)
    headline, per_category = _metrics(table)
    result = {name: metric.result(name, seed, resamples) for name, metric in headline.items()}
    result["kappa_per_category"] = {
        category: metric.result(f"kappa_category:{category}", seed, resamples)
        for category, metric in per_category.items()}
    result["confusion"] = confusion_matrices(table)
    result["n_pairs"] = table.size
    result["bootstrap"] = {"resamples": resamples, "seed": seed}
    result["verbosity_tokenizer"] = tokenizer_name or "custom"
    return result


def confusion_records(eval_rows: list[dict], prediction_rows: list[dict]) -> list[dict]:
    """`dvc plots` confusion data: one {slice, gold, predicted} per pair, from the original
    run; predicted "PF" for a parse failure. Slices as in the metrics: in_dist | ood."""
    verdicts = index_predictions(eval_rows, prediction_rows)
    return [{"slice": slice_group(row["eval_slice"]), "gold": gold_of(row),
             "predicted": verdicts[row["pair_id"]]["original"] or "PF"}
            for row in eval_rows]
