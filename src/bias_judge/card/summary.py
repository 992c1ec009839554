"""The two small files DVC shows on a fresh clone, written by the card stage beside the cards:

- the metrics summary (`metrics/summary.json`, the one file `dvc metrics show/diff` reads):
  per checkpoint, κ on the in-distribution slice of the cards' primary eval set with its 95 %
  interval and n, the number each card's status rests on. Short keys keep `dvc metrics show`
  (one column per key) within 200 columns; everything else stays in the per-stage files.
- the confusion view's data (one file per checkpoint, `dvc plots` confusion records
  {gold, predicted}): the primary set's confusion matrix from the eval metrics, all slices,
  with "PF" for a reply that did not parse where the metrics counted those.
"""

from __future__ import annotations

from bias_judge.card.cells import round3
from bias_judge.card.headline import SetMetrics
from bias_judge.core.vocabulary import CHECKPOINTS, VERDICTS

PARSE_FAILURE = "PF"


def metrics_summary(primary: dict[str, SetMetrics]) -> dict:
    """{checkpoint: {"kappa", "low", "high", "n"}} (null where undefined)."""
    out = {}
    for ckpt in CHECKPOINTS:
        m = primary[ckpt].headline["kappa_in_dist"]
        out[ckpt] = {"kappa": None if m.value is None else round3(m.value),
                     "low": None if m.ci_low is None else round3(m.ci_low),
                     "high": None if m.ci_high is None else round3(m.ci_high),
                     "n": m.n}
    return out


def confusion_records(m: SetMetrics) -> list[dict]:
    """One {gold, predicted} record per counted pair, slices in name order."""
    records = []
    for group in sorted(m.confusion or {}):
        conf = m.confusion[group]
        for g, row in zip(VERDICTS, conf.matrix):
            for p, count in zip(VERDICTS, row):
                records += [{"gold": g, "predicted": p}] * count
        for g, count in zip(VERDICTS, conf.parse_failures or (0, 0, 0)):
            records += [{"gold": g, "predicted": PARSE_FAILURE}] * count
    return records
