"""Verdict probabilities over both response orders (docs/trust.md#verdict-probabilities).

For each order that was judged, the greedy reply is cut after its opening verdict tag and the
model's next-token distribution there gives log P(A), log P(B), log P(TIE). They are
renormalised over the three verdicts (what is left over, `mass` = the share of the full
distribution the three held, says how firmly the model was in the reply format), the swapped
order's A and B are exchanged back to the input's order, and the orders that have a
distribution are averaged. The averaged distribution cannot favour a position: exchanging the
responses exchanges its A and B exactly. Its argmax is the probability protocol's verdict and
its largest probability the verdict's confidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from bias_judge.core.vocabulary import ORDERS, VERDICTS
from bias_judge.data.decision_token import (decision_context_ids, decision_prefix,
                                            verdict_token_ids)

Distribution = dict[str, float]


def normalise(logprobs: Mapping[str, float]) -> tuple[Distribution, float] | None:
    """(P over the three verdicts, the mass they held of the whole vocabulary), or None when
    none of them had any probability."""
    probs = {v: (math.exp(logprobs[v]) if logprobs[v] > -math.inf else 0.0) for v in VERDICTS}
    mass = sum(probs.values())
    if mass <= 0.0:
        return None
    return {v: probs[v] / mass for v in VERDICTS}, mass


def to_input_order(dist: Distribution, order: str) -> Distribution:
    """A distribution over what the judge saw, in the input's order (A and B exchanged for
    the swapped order)."""
    if order == "swapped":
        return {"A": dist["B"], "B": dist["A"], "TIE": dist["TIE"]}
    return dict(dist)


def average(dists: Sequence[Distribution]) -> Distribution | None:
    if not dists:
        return None
    return {v: sum(d[v] for d in dists) / len(dists) for v in VERDICTS}


def argmax(dist: Distribution) -> str:
    """The most probable verdict; an exact tie between A and B is TIE (neither is preferred),
    any other exact tie goes to the first in VERDICTS order."""
    top = max(dist.values())
    best = [v for v in VERDICTS if dist[v] == top]
    if "A" in best and "B" in best:
        return "TIE"
    return best[0]


def pair_record(per_order: Mapping[str, tuple[Distribution, float] | None]) -> dict:
    """The `probabilities` of one judged pair: each judged order's distribution in the
    input's order with its mass (null where that order had no decision), the average, its
    argmax and confidence (null when no order had a distribution)."""
    orders, kept = {}, []
    for order in ORDERS:
        if order not in per_order:
            continue
        got = per_order[order]
        if got is None:
            orders[order] = None
            continue
        dist, mass = got
        mapped = to_input_order(dist, order)
        orders[order] = {**{v: round(mapped[v], 8) for v in VERDICTS}, "mass": round(mass, 8)}
        kept.append(mapped)
    averaged = average(kept)
    return {"orders": orders,
            "averaged": None if averaged is None else {v: round(averaged[v], 8) for v in VERDICTS},
            "verdict": None if averaged is None else argmax(averaged),
            "confidence": None if averaged is None else round(max(averaged.values()), 8)}


def verdict_logprobs(engine, conversations: Sequence[list[dict]],
                     prefixes: Sequence[str]) -> list[dict[str, float] | None]:
    """log P(verdict token) for A, B and TIE where conversation i's reply so far is
    `prefixes[i]` (ending in the opening verdict tag): the context is the prompt as the
    engine renders it plus the prefix tokenised as in training (data/decision_token.py).
    None where the context does not fit the engine's max_model_len."""
    tokens = verdict_token_ids(engine.tokenizer)
    contexts = [engine.prompt_ids(c) + decision_context_ids(engine.tokenizer, p)
                for c, p in zip(conversations, prefixes, strict=True)]
    fits = [i for i, ids in enumerate(contexts) if len(ids) < engine.max_model_len]
    rows = engine.next_token_logprobs([contexts[i] for i in fits], list(tokens.values())) \
        if fits else []
    out: list[dict[str, float] | None] = [None] * len(contexts)
    for i, row in zip(fits, rows):
        out[i] = {v: float(x) for v, x in zip(tokens, row)}
    return out


def order_distributions(engine, requests: Sequence[tuple[list[dict], str]]
                        ) -> list[tuple[Distribution, float] | None]:
    """Per (conversation, greedy reply as the judge saw it): its renormalised verdict
    distribution and mass, or None when the reply reached no decision (its reasoning never
    closed) or the context does not fit."""
    prefixes = [decision_prefix(text) for _, text in requests]
    asked = [i for i, p in enumerate(prefixes) if p is not None]
    logprobs = verdict_logprobs(engine, [requests[i][0] for i in asked],
                                [prefixes[i] for i in asked]) if asked else []
    out: list[tuple[Distribution, float] | None] = [None] * len(requests)
    for i, lp in zip(asked, logprobs):
        out[i] = None if lp is None else normalise(lp)
    return out


def needs_review(record: dict, threshold: float | None) -> bool | None:
    """Abstention: True when the averaged confidence is below `threshold` (or there is no
    distribution to trust); None when no threshold was asked for."""
    if threshold is None:
        return None
    return record["confidence"] is None or record["confidence"] < threshold
