"""Which checkpoint wins which metric, and the "when to choose this checkpoint" text.

Everything here is derived from the numbers: comparisons use the values as the table shows
them (so two cells that print the same are a tie), and an interval overlap is reported so a
reader can tell a clear lead from noise. No sentence quotes a number: the table is the one
place each number appears, so a changed metric changes exactly one cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from bias_judge.card.cells import format_value
from bias_judge.card.headline import BY_KEY, COLUMN_LABELS, METRICS, Measured, MetricSpec
from bias_judge.core.vocabulary import IN_DIST, OOD, SLICE_GROUPS


def _shown(m: Measured, spec: MetricSpec) -> float:
    """The value as printed, as a number, oriented so that larger is better."""
    printed = float(format_value(m.value, spec.kind).rstrip("%"))
    if spec.better == "higher":
        return printed
    if spec.better == "lower":
        return -printed
    raise ValueError(f"{spec.key} has no better direction")


def _overlap(a: Measured, b: Measured) -> bool | None:
    """Whether two 95 % intervals overlap; None when either was not measured."""
    if None in (a.ci_low, a.ci_high, b.ci_low, b.ci_high):
        return None
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high


@dataclass(frozen=True)
class Outcome:
    """One metric compared between two checkpoints."""
    key: str
    winner: str | None     # checkpoint name, None = tie
    overlap: bool | None   # intervals overlap (None = no intervals)


def compare_pair(x: str, y: str, metrics: dict[str, dict[str, Measured]], key: str) -> Outcome | None:
    """Compare checkpoints x and y on one metric; None when either lacks it."""
    spec = BY_KEY[key]
    if spec.better == "none":
        return None
    mx, my = metrics.get(x, {}).get(key), metrics.get(y, {}).get(key)
    if mx is None or my is None or not mx.present or not my.present:
        return None
    sx, sy = _shown(mx, spec), _shown(my, spec)
    winner = None if sx == sy else (x if sx > sy else y)
    return Outcome(key, winner, _overlap(mx, my))


def leaders(metrics: dict[str, dict[str, Measured]], key: str) -> tuple[list[str], bool | None, int]:
    """The checkpoints with the best shown value on one metric, whether the best one's
    interval overlaps the runner-up's (None: a tie, no runner-up or no intervals), and how
    many checkpoints measured it."""
    spec = BY_KEY[key]
    if spec.better == "none":
        return [], None, 0
    have = [(c, metrics[c][key]) for c in metrics if key in metrics[c] and metrics[c][key].present]
    if not have:
        return [], None, 0
    best = max(_shown(m, spec) for _, m in have)
    top = [c for c, m in have if _shown(m, spec) == best]
    rest = [m for c, m in have if c not in top]
    if len(top) > 1 or not rest:
        return top, None, len(have)
    runner = max(rest, key=lambda m: _shown(m, spec))
    return top, _overlap(metrics[top[0]][key], runner), len(have)


def wins_table(metrics: dict[str, dict[str, Measured]]) -> list[dict]:
    """One row per metric: its label, the best checkpoint(s), and how clear the lead is."""
    rows = []
    for spec in METRICS:
        top, overlap, measured = leaders(metrics, spec.key)
        if spec.better == "none":
            best, note = "—", "a diagnostic, not ranked"
        elif not top:
            undefined = any(m[spec.key].undefined for m in metrics.values() if spec.key in m)
            best, note = "—", "undefined for every checkpoint" if undefined else "not measured"
        elif len(top) > 1:
            best, note = " = ".join(COLUMN_LABELS[c] for c in top), "tie at the shown precision"
        elif measured == 1:
            best, note = COLUMN_LABELS[top[0]], "the only checkpoint measured"
        else:
            best = COLUMN_LABELS[top[0]]
            note = {None: "no intervals to compare",
                    True: "95% intervals overlap with the runner-up's",
                    False: "95% intervals do not overlap with the runner-up's"}[overlap]
        rows.append({"label": spec.label, "best": best, "note": note})
    return rows


@dataclass
class GroupSummary:
    ahead: list[str]
    behind: list[str]
    tied: list[str]
    overlapping: int

    @property
    def compared(self) -> int:
        return len(self.ahead) + len(self.behind) + len(self.tied)


def _group(x: str, y: str, metrics, scope: str) -> GroupSummary:
    s = GroupSummary([], [], [], 0)
    for spec in METRICS:
        if spec.scope != scope:
            continue
        o = compare_pair(x, y, metrics, spec.key)
        if o is None:
            continue
        (s.tied if o.winner is None else s.ahead if o.winner == x else s.behind).append(spec.short)
        if o.overlap:
            s.overlapping += 1
    return s


def _lead(x: str, y: str, metrics, scope: str, kappa_key: str) -> str | None:
    """Who leads a group: more metrics won, then the slice κ; None when even."""
    g = _group(x, y, metrics, scope)
    if len(g.ahead) != len(g.behind):
        return x if len(g.ahead) > len(g.behind) else y
    o = compare_pair(x, y, metrics, kappa_key)
    return None if o is None else o.winner


def _list(labels: list[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def _group_sentence(x: str, y: str, g: GroupSummary, where: str) -> str:
    X, Y = COLUMN_LABELS[x], COLUMN_LABELS[y]
    if g.compared == 0:
        return f"{where}: no metric was measured for both {X} and {Y}."
    parts = [f"{where}: {X} is ahead of {Y} on {len(g.ahead)} of {g.compared} metrics"]
    if g.ahead:
        parts[0] += f" ({_list(g.ahead)})"
    if g.behind:
        parts.append(f"behind on {len(g.behind)} ({_list(g.behind)})")
    if g.tied:
        parts.append(f"level on {len(g.tied)}")
    text = "; ".join(parts) + "."
    if g.overlapping:
        text += (f" In {g.overlapping} of these comparisons the two 95% intervals overlap, so "
                 f"that difference may not hold on a new sample.")
    return text


def choose_text(this: str, other: str, metrics: dict[str, dict[str, Measured]], *,
                ood_name: str) -> dict:
    """The "when to choose this checkpoint" section for checkpoint `this` against the other
    released one, on one eval set's metrics {checkpoint: {metric: Measured}}."""
    X, Y = COLUMN_LABELS[this], COLUMN_LABELS[other]
    sentences = [
        _group_sentence(this, other, _group(this, other, metrics, IN_DIST),
                        "In distribution (the trained categories)"),
        _group_sentence(this, other, _group(this, other, metrics, OOD),
                        f"Out of distribution (the held-out category, {ood_name})"),
        _group_sentence(this, other, _group(this, other, metrics, "all"),
                        "Over all pairs (self-consistency, parse failures)"),
    ]
    in_lead = _lead(this, other, metrics, IN_DIST, "kappa_in_dist")
    ood_lead = _lead(this, other, metrics, OOD, "kappa_ood")
    if in_lead == this and ood_lead == this:
        advice = f"Choose {X}: on this evaluation it leads {Y} both in and out of distribution."
    elif in_lead == other and ood_lead == other:
        advice = (f"On this evaluation {Y} leads {X} both in and out of distribution; prefer {Y} "
                  f"unless your own checks say otherwise.")
    elif in_lead == this and ood_lead == other:
        advice = (f"Choose {X} when the pairs you judge come from the categories it was trained on; "
                  f"choose {Y} when they come from other categories (such as {ood_name}).")
    elif in_lead == other and ood_lead == this:
        advice = (f"Choose {X} when the pairs you judge come from categories outside training "
                  f"(such as {ood_name}); choose {Y} for the trained categories.")
    else:
        advice = (f"Neither {X} nor {Y} leads clearly on this evaluation; check both on a sample "
                  f"of your own pairs.")
    base = _group_all(this, "base", metrics)
    if base.compared:
        sentences.append(f"Against the untuned base model, {X} is ahead on {len(base.ahead)} of "
                         f"{base.compared} metrics.")
    return {"advice": advice, "sentences": sentences}


def _group_all(x: str, y: str, metrics) -> GroupSummary:
    total = GroupSummary([], [], [], 0)
    for scope in (*SLICE_GROUPS, "all"):
        g = _group(x, y, metrics, scope)
        total.ahead += g.ahead
        total.behind += g.behind
        total.tied += g.tied
        total.overlapping += g.overlapping
    return total


def sign_word(m: Measured) -> str | None:
    """How the judge leans on length, from the verbosity metric's sign."""
    if not m.present:
        return None
    shown = float(format_value(m.value, "tokens"))
    if shown > 0:
        return "longer"
    if shown < 0:
        return "shorter"
    return "neither"
