"""Cohen's κ from 3×3 confusion counts, for one table or a whole stack of bootstrap tables.

Same arithmetic as sklearn's `cohen_kappa_score` (unweighted): κ = 1 − Σ w·C / Σ w·E with
w the off-diagonal mask and E the outer product of the marginals over the total; undefined
(NaN) when there is nothing to compare or the expected disagreement is zero. Calling sklearn
12,000 times per bootstrap would cost seconds; this does them all in one numpy pass.
"""

from __future__ import annotations

import numpy as np

from bias_judge.core.vocabulary import VERDICTS

_OFF_DIAGONAL = 1.0 - np.eye(len(VERDICTS))


def confusion_counts(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """3×3 counts, rows gold, columns predicted; codes 0..2, a negative code is skipped."""
    gold, pred = np.asarray(gold), np.asarray(pred)
    keep = pred >= 0
    cells = gold[keep] * 3 + pred[keep]
    return np.bincount(cells, minlength=9).reshape(3, 3)


def kappa_from_counts(counts: np.ndarray) -> np.ndarray | float:
    """κ of each (..., 3, 3) table; NaN where undefined."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=(-2, -1))
    gold_marg = counts.sum(axis=-1)
    pred_marg = counts.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = gold_marg[..., :, None] * pred_marg[..., None, :] / total[..., None, None]
        observed_off = (counts * _OFF_DIAGONAL).sum(axis=(-2, -1))
        expected_off = (expected * _OFF_DIAGONAL).sum(axis=(-2, -1))
        kappa = 1.0 - observed_off / expected_off
    kappa = np.where((total == 0) | (expected_off == 0), np.nan, kappa)
    return float(kappa) if kappa.ndim == 0 else kappa


def kappa(gold: np.ndarray, pred: np.ndarray) -> float:
    """κ between two code arrays (0..2); pairs whose prediction is negative are dropped."""
    return kappa_from_counts(confusion_counts(gold, pred))


def batched_kappa(cells: np.ndarray) -> np.ndarray:
    """κ per row of `cells` (R, m): each entry gold*3 + predicted, negative = dropped."""
    rows = cells.shape[0]
    keep = cells >= 0
    flat = (np.arange(rows)[:, None] * 9 + cells)[keep]
    counts = np.bincount(flat, minlength=rows * 9).reshape(rows, 3, 3)
    return kappa_from_counts(counts)
