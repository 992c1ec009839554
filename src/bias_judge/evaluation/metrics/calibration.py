"""The averaged-probability protocol scored on one eval set (docs/trust.md#calibration):
its κ and order agreement beside the greedy protocol's, expected calibration error, Brier
score and reliability bins of the averaged distribution, and the coverage–agreement curve
that abstention (`judge --abstain-below P`) is chosen from.

Each pair's averaged distribution comes from the greedy `original` and `swapped` prediction
rows' `probabilities` (the distribution as the judge saw that order). A pair without any
distribution (no greedy reply reached the verdict tag) has no probability verdict: it counts
like a parse failure in κ and is left out of calibration, and the n of each number says how
many pairs it rests on.
"""

from __future__ import annotations

import numpy as np

from bias_judge.core.vocabulary import IN_DIST, OOD, VERDICTS, slice_group
from bias_judge.evaluation.eval_sets import gold_of
from bias_judge.evaluation.metrics.bootstrap import metric_rng, percentile_ci
from bias_judge.evaluation.metrics.kappa import batched_kappa
from bias_judge.evaluation.probabilities import argmax, average, to_input_order

BINS = 10  # equal-width confidence bins of the reliability diagram and ECE
# Abstention thresholds: the averaged confidence is never below 1/3.
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.35, 1.0, 0.05))
CODE = {v: i for i, v in enumerate(VERDICTS)}


def averaged_table(eval_rows: list[dict], prediction_rows: list[dict]):
    """(probs (n, 3) with NaN rows where no distribution, per-order argmax codes (n, 2) in the
    input's order with -1 where missing, gold codes (n,), slice groups (n,))."""
    by_key = {(r["pair_id"], r["run"]): r for r in prediction_rows}
    n = len(eval_rows)
    probs = np.full((n, len(VERDICTS)), np.nan)
    order_codes = np.full((n, 2), -1, dtype=np.int64)
    for i, row in enumerate(eval_rows):
        dists = []
        for j, order in enumerate(("original", "swapped")):
            pred = by_key.get((row["pair_id"], order))
            seen = None if pred is None else pred.get("probabilities")
            if seen is None:
                continue
            mapped = to_input_order({v: seen[v] for v in VERDICTS}, order)
            dists.append(mapped)
            order_codes[i, j] = CODE[argmax(mapped)]
        mean = average(dists)
        if mean is not None:
            probs[i] = [mean[v] for v in VERDICTS]
    gold = np.array([CODE[gold_of(r)] for r in eval_rows], dtype=np.int64)
    groups = np.array([slice_group(r["eval_slice"]) for r in eval_rows], dtype=object)
    return probs, order_codes, gold, groups


def verdict_codes(probs: np.ndarray) -> np.ndarray:
    """The averaged argmax per pair (-1 without a distribution), A/B exact ties as TIE."""
    out = np.full(len(probs), -1, dtype=np.int64)
    for i, row in enumerate(probs):
        if not np.isnan(row).any():
            out[i] = CODE[argmax(dict(zip(VERDICTS, row.tolist())))]
    return out


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> float:
    """Top-label expected calibration error: over equal-width bins of the verdict's
    probability (`confidence`), the pair-weighted mean |accuracy − mean confidence|."""
    edges = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = edges == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / len(confidence))


def brier(probs: np.ndarray, gold: np.ndarray) -> float:
    """Multi-class Brier score: the mean over pairs of Σ_v (p_v − [gold = v])², 0 (perfect)
    to 2."""
    onehot = np.eye(len(VERDICTS))[gold]
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def reliability_bins(confidence: np.ndarray, correct: np.ndarray,
                     bins: int = BINS) -> list[dict]:
    edges = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    out = []
    for b in range(bins):
        mask = edges == b
        out.append({"bin_low": round(b / bins, 4), "bin_high": round((b + 1) / bins, 4),
                    "n": int(mask.sum()),
                    "confidence": _r(confidence[mask].mean()) if mask.any() else None,
                    "accuracy": _r(correct[mask].mean()) if mask.any() else None})
    return out


def _r(x) -> float | None:
    return None if x is None or np.isnan(x) else round(float(x), 6) + 0.0


def _interval(values_of, population: np.ndarray, name: str, seed: int, resamples: int) -> dict:
    if len(population) == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    value = float(values_of(population[None, :])[0])
    low, high = percentile_ci(values_of, population, resamples=resamples,
                              rng=metric_rng(seed, name))
    return {"value": _r(value), "ci_low": _r(low), "ci_high": _r(high), "n": int(len(population))}


def _kappa(gold: np.ndarray, pred: np.ndarray, population: np.ndarray, name: str, seed: int,
           resamples: int) -> dict:
    cells = np.where(pred >= 0, gold * 3 + pred, -1)
    result = _interval(lambda idx: batched_kappa(cells[idx]), population, name, seed, resamples)
    result["n"] = int((cells[population] >= 0).sum())
    return result


def coverage_curve(probs: np.ndarray, gold: np.ndarray, n_pairs: int) -> list[dict]:
    """Per threshold t: the pairs whose averaged confidence is at least t (kept), their share
    of all the set's pairs, and κ and agreement with gold on them."""
    pred = verdict_codes(probs)
    have = pred >= 0
    confidence = np.where(have, np.nan_to_num(probs).max(axis=1), -1.0)
    out = []
    for t in THRESHOLDS:
        kept = have & (confidence >= t)
        k = int(kept.sum())
        cells = (gold[kept] * 3 + pred[kept])[None, :]
        kappa = float(batched_kappa(cells)[0]) if k else float("nan")
        out.append({"threshold": float(t), "kept": k,
                    "coverage": _r(k / n_pairs) if n_pairs else None,
                    "kappa": _r(kappa), "agreement": _r((pred[kept] == gold[kept]).mean())
                    if k else None})
    return out


def probability_metrics(eval_rows: list[dict], prediction_rows: list[dict], *, seed: int,
                        resamples: int) -> dict:
    """The `probability_protocol` section of one set's eval metrics (schema eval_metrics)."""
    probs, order_codes, gold, groups = averaged_table(eval_rows, prediction_rows)
    pred = verdict_codes(probs)
    have = np.flatnonzero(pred >= 0)
    out: dict = {"pairs_with_probabilities": int(len(have))}
    agree = (order_codes[:, 0] == order_codes[:, 1]).astype(np.float64)
    for group in (IN_DIST, OOD):
        population = np.flatnonzero(groups == group)
        out[f"kappa_{group}"] = _kappa(gold, pred, population, f"prob_kappa:{group}", seed,
                                       resamples)
        # Both orders' own argmax exists and names the same response after mapping back.
        both = population[(order_codes[population] >= 0).all(axis=1)]
        out[f"order_agreement_{group}"] = _interval(
            lambda idx: agree[idx].mean(axis=1), both, f"prob_order:{group}", seed, resamples)
    confidence = np.where(pred >= 0, np.nan_to_num(probs).max(axis=1), np.nan)
    correct = pred == gold
    out["ece"] = _interval(lambda idx: np.array([ece(confidence[r], correct[r]) for r in idx]),
                           have, "prob_ece", seed, resamples)
    out["brier"] = _interval(lambda idx: np.array([brier(probs[r], gold[r]) for r in idx]),
                             have, "prob_brier", seed, resamples)
    out["mean_confidence"] = _r(confidence[have].mean()) if len(have) else None
    out["accuracy"] = _r(correct[have].mean()) if len(have) else None
    out["reliability"] = reliability_bins(confidence[have], correct[have]) if len(have) else []
    out["coverage_agreement"] = coverage_curve(probs, gold, len(eval_rows))
    return out
