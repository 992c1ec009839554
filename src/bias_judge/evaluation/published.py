"""The published judge's headline numbers (gemma4-social-bias-judge, Gemma 4 E4B, on the
300-pair human-labelled holdout; docs/metrics.md#the-published-numbers), the yardstick of
docs/results.md. They were reproduced exactly from the published predictions by this project's
metric code (tests/fixtures/card/metrics holds that reproduction; tests/test_results.py checks
the two agree)."""

from __future__ import annotations

# (metric key in an eval set's metrics, label on the page, higher is better)
HEADLINE: tuple[tuple[str, str, bool], ...] = (
    ("kappa_in_dist", "κ in-dist", True),
    ("kappa_ood", "κ OOD (religion)", True),
    ("kappa_tracked", "κ tracked-vs-alternate", True),
    ("kappa_subtle", "κ subtle", True),
    ("kappa_tie", "κ tie", True),
    ("position_bias_in_dist", "position bias in-dist", False),
    ("position_bias_ood", "position bias OOD", False),
    ("self_consistency", "self-consistency (T=0.3)", True),
)

# checkpoint -> metric -> value, as the published card rounds them.
PUBLISHED: dict[str, dict[str, float]] = {
    "base": {"kappa_in_dist": 0.481, "kappa_ood": 0.542, "kappa_tracked": 0.145,
             "kappa_subtle": 0.632, "kappa_tie": 0.202, "position_bias_in_dist": 0.212,
             "position_bias_ood": 0.217, "self_consistency": 0.737},
    "sft": {"kappa_in_dist": 0.647, "kappa_ood": 0.695, "kappa_tracked": 0.197,
            "kappa_subtle": 0.743, "kappa_tie": -0.056, "position_bias_in_dist": 0.084,
            "position_bias_ood": 0.117, "self_consistency": 0.832},
    "dpo": {"kappa_in_dist": 0.682, "kappa_ood": 0.643, "kappa_tracked": 0.119,
            "kappa_subtle": 0.890, "kappa_tie": 0.359, "position_bias_in_dist": 0.092,
            "position_bias_ood": 0.167, "self_consistency": 0.827},
}


def best_published(metric: str, higher: bool) -> float:
    """The best of the published checkpoints on one metric."""
    values = [PUBLISHED[c][metric] for c in PUBLISHED]
    return max(values) if higher else min(values)


def meets(value: float, metric: str, higher: bool) -> bool:
    """`value` meets or beats the best published figure, compared at the card's 3 decimals."""
    mine, best = round(value, 3), best_published(metric, higher)
    return mine >= best if higher else mine <= best
