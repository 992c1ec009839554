"""How well the rule labeler agrees with human labels: Cohen's κ per set, slice and bucket.

A human-labelled set in the published holdout format carries the pair fields and
`human_verdict` but not the responses' `suspected_bias_level`, which the rule needs. Each
row's levels come from, in this order:
  1. the row itself (both responses carry `suspected_bias_level`),
  2. the row's `facts` (chosen letters against the correct/target letters),
  3. a pair pool (`levels_pool`, e.g. the pipeline's pairs.jsonl) holding the same pair_id
     with the same two response texts (in either order; the levels follow the texts).
Rows whose levels stay unknown are left out of κ and counted as `n_without_levels`, so a
report never pretends to cover rows it could not score.
"""

from __future__ import annotations

import math

from bias_judge.core.errors import InputError
from bias_judge.core.vocabulary import VERDICTS

from bias_judge.data.labelers.facts import pair_facts
from bias_judge.data.labelers.rule import rule_verdict



def _kappa(human: list[str], rule: list[str]) -> float | None:
    if not human:
        return None
    from sklearn.metrics import cohen_kappa_score

    import warnings
    with warnings.catch_warnings():
        # A slice where both raters use one label has undefined κ (0/0): reported as null.
        warnings.simplefilter("ignore")
        k = float(cohen_kappa_score(human, rule, labels=list(VERDICTS)))
    return None if math.isnan(k) else round(k, 6)


def _stats(human: list[str], rule: list[str]) -> dict:
    n = len(human)
    return {
        "n": n,
        "kappa": _kappa(human, rule),
        "agreement": round(sum(h == r for h, r in zip(human, rule)) / n, 6) if n else None,
    }


def _with_levels(row: dict, pool: dict[str, dict]) -> tuple[dict | None, str]:
    a, b = row["response_a"], row["response_b"]
    if a.get("suspected_bias_level") and b.get("suspected_bias_level"):
        return row, "row"
    if row.get("facts"):
        f = pair_facts(row)
        if None not in f.levels.values():
            return _set_levels(row, f.levels["A"], f.levels["B"]), "facts"
    other = pool.get(row["pair_id"])
    if other is not None:
        oa, ob = other["response_a"], other["response_b"]
        la, lb = oa.get("suspected_bias_level"), ob.get("suspected_bias_level")
        if la and lb:
            if (oa["text"], ob["text"]) == (a["text"], b["text"]):
                return _set_levels(row, la, lb), "pool"
            if (ob["text"], oa["text"]) == (a["text"], b["text"]):
                return _set_levels(row, lb, la), "pool"
    return None, "missing"


def _set_levels(row: dict, la: str, lb: str) -> dict:
    return {**row,
            "response_a": {**row["response_a"], "suspected_bias_level": la},
            "response_b": {**row["response_b"], "suspected_bias_level": lb}}


def score_set(rows: list[dict], *, pool: dict[str, dict], biased_vs_unclear: str,
              source: str = "") -> dict:
    """κ of the rule against `human_verdict`: overall, per eval_slice, per bucket in each."""
    scored = []
    level_sources = {"row": 0, "facts": 0, "pool": 0, "missing": 0}
    for i, row in enumerate(rows, start=1):
        human = row.get("human_verdict")
        if human not in VERDICTS:
            raise InputError(f"human_verdict must be one of {list(VERDICTS)}, got {human!r}",
                             file=source or None, line=i, field="human_verdict")
        full, how = _with_levels(row, pool)
        level_sources[how] += 1
        if full is None:
            continue
        rule = rule_verdict(full, biased_vs_unclear=biased_vs_unclear)
        scored.append((row.get("eval_slice", "all"), row["pair_category"], human, rule))

    report = {"n": len(rows), "n_scored": len(scored),
              "n_without_levels": level_sources["missing"], "levels_from": level_sources,
              **{k: v for k, v in _stats([s[2] for s in scored], [s[3] for s in scored]).items()
                 if k != "n"},
              "slices": {}}
    for slice_name in sorted({s[0] for s in scored}):
        in_slice = [s for s in scored if s[0] == slice_name]
        entry = _stats([s[2] for s in in_slice], [s[3] for s in in_slice])
        entry["buckets"] = {
            bucket: _stats([s[2] for s in in_slice if s[1] == bucket],
                           [s[3] for s in in_slice if s[1] == bucket])
            for bucket in sorted({s[1] for s in in_slice})
        }
        report["slices"][slice_name] = entry
    if level_sources["missing"]:
        report["note"] = (f"{level_sources['missing']} rows have no response levels (not in the "
                          "row, its facts, or the levels pool) and are not scored")
    return report


def gold_quality_report(sets: list[tuple[str, str, list[dict]]], *, levels_pool: list[dict],
                        biased_vs_unclear: str) -> dict:
    """`sets`: (name, path, rows) per human-labelled set. Always a report, with an empty
    `sets` object when there is none, so the pipeline's metrics file exists."""
    pool = {p["pair_id"]: p for p in levels_pool}
    out = {"labeler": "rule", "biased_vs_unclear": biased_vs_unclear, "sets": {}}
    for name, path, rows in sets:
        key = name
        suffix = 2
        while key in out["sets"]:
            key = f"{name}_{suffix}"
            suffix += 1
        out["sets"][key] = {"file": str(path),
                            **score_set(rows, pool=pool, biased_vs_unclear=biased_vs_unclear,
                                        source=str(path))}
    return out


def frontier_verdict(row: dict, source: str, line: int) -> str:
    """A frontier model's verdict on a training pair: `sonnet_verdict` where the row has one
    (the published rejected-answer file, whose `verdict` is the deliberately wrong answer),
    else `verdict` (the published label samples)."""
    value = row.get("sonnet_verdict", row.get("verdict"))
    if value not in VERDICTS:
        raise InputError(f"verdict must be one of {list(VERDICTS)}, got {value!r}",
                         file=source, line=line, field="sonnet_verdict" if "sonnet_verdict" in row
                         else "verdict")
    return value


def frontier_report(sets: list[tuple[str, str, list[dict]]], teacher: list[dict]) -> dict:
    """The teacher's labels (`teacher`: labelled training pairs) against frontier verdicts on
    the same training pairs: κ and agreement overall and per bucket, and the confusion
    (frontier verdict -> teacher verdict). Rows whose pair is not in the training pool are
    counted, not scored. This is training-pool evidence: the teacher may be tuned on it."""
    by_id = {p["pair_id"]: p for p in teacher}
    out = {}
    for name, path, rows in sets:
        scored = []
        for line, row in enumerate(rows, start=1):
            if "pair_id" not in row:
                raise InputError("missing 'pair_id'", file=str(path), line=line, field="pair_id")
            frontier = frontier_verdict(row, str(path), line)
            pair = by_id.get(row["pair_id"])
            if pair is not None:
                scored.append((pair["pair_category"], frontier, pair["verdict"]))
        confusion: dict[str, dict[str, int]] = {v: {w: 0 for w in VERDICTS} for v in VERDICTS}
        for _, frontier, mine in scored:
            confusion[frontier][mine] += 1
        stats = _stats([s[1] for s in scored], [s[2] for s in scored])
        out[name] = {"file": str(path), "n": len(rows), "n_scored": stats.pop("n"),
                     "n_not_in_pool": len(rows) - len(scored), **stats,
                     "confusion_frontier_to_teacher": confusion,
                     "buckets": {b: _stats([s[1] for s in scored if s[0] == b],
                                           [s[2] for s in scored if s[0] == b])
                                 for b in sorted({s[0] for s in scored})}}
    return out
