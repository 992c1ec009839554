"""Percentile bootstrap over pairs: one index matrix per metric, every resample at once."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]


def metric_rng(seed: int, name: str) -> np.random.Generator:
    # One stream per metric name, so adding or reordering metrics never moves another's CI.
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def percentile_ci(statistic: Statistic, population: np.ndarray, *, resamples: int,
                  rng: np.random.Generator, level: float = 0.95) -> tuple[float | None, float | None]:
    """(low, high) of `statistic` over `resamples` draws with replacement from `population`
    (indices into the pair table). `statistic` maps an (R, m) index matrix to R values;
    NaN resamples are ignored; None when nothing is left."""
    m = len(population)
    if resamples <= 0 or m == 0:
        return None, None
    draws = population[rng.integers(0, m, size=(resamples, m))]
    values = np.asarray(statistic(draws), dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None, None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)
