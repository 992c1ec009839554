"""What a checkpoint is fit for, decided from its own numbers by a stated rule.

The rule reads κ on the in-distribution slice of the card's primary eval set (the slice the
judge was trained for) and the parse-failure rate, with thresholds from params (`card.fitness`).
In order, the first that applies:

1. no κ (nothing scored, or a single gold verdict)    -> demonstration
2. κ's 95 % interval reaches zero or lies below it     -> demonstration (no better than chance)
3. κ from fewer than `min_pairs` scored pairs          -> experimental
4. the interval's lower end below `min_kappa`          -> experimental
5. parse failures above `max_parse_failures`           -> experimental
6. otherwise                                           -> fit for use

The card prints the rule with the thresholds, so a reader can check the verdict against the
table. The reasons are written as sentences here because each one quotes the numbers it
rests on; the template only places them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from bias_judge.card.headline import COLUMN_LABELS, Confusion, SetMetrics
from bias_judge.core.settings import Section
from bias_judge.core.vocabulary import IN_DIST, VERDICTS

DEMONSTRATION = "demonstration"
EXPERIMENTAL = "experimental"
FIT = "fit"
LEVELS = (DEMONSTRATION, EXPERIMENTAL, FIT)

HEADLINES = {
    DEMONSTRATION: "a pipeline demonstration, not a release",
    EXPERIMENTAL: "experimental: better than chance, not yet fit for use",
    FIT: "fit for use on pairs like its eval set",
}


class FitnessSettings(Section):
    """params section `card.fitness`: the status rule's thresholds."""
    min_pairs: int = Field(ge=1, description="scored in-dist pairs κ must rest on")
    min_kappa: float = Field(gt=0, le=1, description="lower end of κ's 95 % interval")
    max_parse_failures: float = Field(ge=0, le=1, description="share of replies without a verdict")


@dataclass(frozen=True)
class Status:
    level: str
    headline: str
    reasons: tuple[str, ...]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def rule_text(s: FitnessSettings) -> str:
    """The rule, in words, with this run's thresholds."""
    return (f"A checkpoint is called fit for use when, on the in-distribution slice of the "
            f"eval set the advice is based on, κ is computed from at least {s.min_pairs} scored "
            f"pairs, the lower end of its 95% interval is at least {s.min_kappa:g}, and at most "
            f"{_pct(s.max_parse_failures)} of its replies miss the verdict format. An interval "
            f"that reaches zero means the checkpoint does not judge better than chance: a "
            f"demonstration of the pipeline, not a release. Anything between is experimental.")


def assess(m: SetMetrics, s: FitnessSettings, set_name: str) -> Status:
    kappa = m.headline["kappa_in_dist"]
    pf = m.headline["parse_failure_rate"]
    where = f"on the in-distribution pairs of the `{set_name}` eval set"
    if not kappa.present:
        why = ("no reply in the original order carried a verdict" if not kappa.n
               else f"all {kappa.n} scored pairs have the same gold verdict")
        return Status(DEMONSTRATION, HEADLINES[DEMONSTRATION],
                      (f"κ is undefined {where}: {why}.",))
    if kappa.ci_low is None or kappa.ci_high is None:
        return Status(DEMONSTRATION, HEADLINES[DEMONSTRATION],
                      (f"κ {where} has no confidence interval, so it cannot be told apart from "
                       f"chance.",))
    interval = f"[{kappa.ci_low:.3f}, {kappa.ci_high:.3f}]"
    if kappa.ci_low <= 0:
        return Status(DEMONSTRATION, HEADLINES[DEMONSTRATION],
                      (f"It does not judge better than chance {where}: the 95% interval of κ, "
                       f"{interval} over {kappa.n} pairs, includes zero.",))
    reasons = []
    if kappa.n is not None and kappa.n < s.min_pairs:
        reasons.append(f"κ {where} rests on {kappa.n} scored pairs, fewer than the "
                       f"{s.min_pairs} the rule asks for.")
    if kappa.ci_low < s.min_kappa:
        reasons.append(f"κ {where} is better than chance, but the lower end of its 95% interval "
                       f"{interval} is below {s.min_kappa:g}.")
    if not pf.present:
        reasons.append("Its parse-failure rate was not measured.")
    elif pf.value > s.max_parse_failures:
        reasons.append(f"{_pct(pf.value)} of its replies miss the verdict format (at most "
                       f"{_pct(s.max_parse_failures)} allowed).")
    if reasons:
        return Status(EXPERIMENTAL, HEADLINES[EXPERIMENTAL], tuple(reasons))
    replies = f"{_pct(pf.value)} of its replies miss the verdict format"
    return Status(FIT, HEADLINES[FIT],
                  (f"The 95% interval of κ {where}, {interval} over {kappa.n} pairs, lies at or "
                   f"above {s.min_kappa:g}, and {replies}.",))


def verdict_sentence(label: str, m: SetMetrics, set_name: str) -> str | None:
    """How a checkpoint's original-order verdicts on the in-distribution pairs are spread,
    against the gold: the fact a κ near zero hides (e.g. TIE for nearly everything)."""
    conf: Confusion | None = (m.confusion or {}).get(IN_DIST)
    if conf is None:
        return None
    predicted = [sum(row[j] for row in conf.matrix) for j in range(len(VERDICTS))]
    gold = [sum(row) for row in conf.matrix]
    answered = sum(predicted)
    failed = sum(conf.parse_failures) if conf.parse_failures is not None else None
    if answered == 0:
        if failed:
            return (f"{label} gave no verdict in the original order on any of the {failed} "
                    f"in-distribution pairs of `{set_name}`.")
        return None
    spread = ", ".join(f"{v} {n}" for v, n in zip(VERDICTS, predicted))
    gold_spread = ", ".join(f"{v} {n}" for v, n in zip(VERDICTS, gold))
    text = (f"{label}'s verdicts (original order) on the {answered} in-distribution pairs of "
            f"`{set_name}` it answered: {spread}; the gold verdicts of those pairs: {gold_spread}.")
    if failed:
        text += f" It gave no verdict on {failed} more."
    return text


def replies_sentence(checkpoint: str, m: SetMetrics, set_name: str) -> str | None:
    """How many of a checkpoint's replies carried a verdict in the trained format."""
    if m.replies is None or m.replies[1] == 0:
        return None
    failures, total = m.replies
    label = "the untuned base model" if checkpoint == "base" else COLUMN_LABELS[checkpoint]
    parsed = total - failures
    if parsed == 0:
        return (f"On `{set_name}`, {label} gave no verdict in the trained format in any of its "
                f"{total} replies.")
    return (f"On `{set_name}`, {label} gave a verdict in the trained format in {parsed} of its "
            f"{total} replies.")
