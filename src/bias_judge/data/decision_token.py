"""Where the decision sits in a tokenised judge reply (docs/trust.md#the-decision-token).

A reply is `<reasoning>…</reasoning><verdict>V</verdict>`. The decision is the first token
after the opening verdict tag: "A", "B", or the first piece of "TIE". Training weights that
token's loss (`sft.verdict_weight`) and judging reads the verdict probabilities from the
model's distribution at that position, so both find it here, the same way: the tokenizer and
chat template decide how the tag splits, and nothing is assumed about them.
"""

from __future__ import annotations

from bias_judge.core.vocabulary import VERDICTS
from bias_judge.data.prompt import format_target

MARKER_TOKENS = 3  # tokens right before the decision that identify it (e.g. "ver", "dict", ">")
OPEN_TAG = "<verdict>"
CLOSE_REASONING = "</reasoning>"


def _decision_index(tokenizer, ids: list[int], cut: int) -> int:
    """The index of the first token whose decoded prefix reaches past character `cut`."""
    return next(i for i in range(len(ids) + 1) if len(tokenizer.decode(ids[:i])) > cut) - 1


def _locate(tokenizer, verdict: str) -> tuple[tuple[int, ...], int]:
    reply = format_target("x", verdict)
    ids = tokenizer.encode(reply, add_special_tokens=False)
    at = _decision_index(tokenizer, ids, reply.index(OPEN_TAG) + len(OPEN_TAG))
    if at < MARKER_TOKENS or not tokenizer.decode(ids[at:]).startswith(verdict):
        raise ValueError(f"cannot locate the verdict token of {reply!r} in this tokenizer")
    return tuple(ids[at - MARKER_TOKENS:at]), int(ids[at])


def decision_marker(tokenizer) -> tuple[int, ...]:
    """The token ids that precede the decision token in a rendered reply, checked to be the
    same for every verdict."""
    markers = {_locate(tokenizer, v)[0] for v in VERDICTS}
    if len(markers) != 1:
        raise ValueError("the tokens before the verdict differ between verdicts")
    return markers.pop()


def verdict_token_ids(tokenizer) -> dict[str, int]:
    """{verdict: its decision token id}, checked distinct (a tokenizer that began "TIE" with
    the same piece as "A" or "B" could not tell the verdicts apart from one token)."""
    decision_marker(tokenizer)
    ids = {v: _locate(tokenizer, v)[1] for v in VERDICTS}
    if len(set(ids.values())) != len(VERDICTS):
        raise ValueError(f"the verdicts share a first token in this tokenizer: {ids}")
    return ids


def decision_prefix(reply: str) -> str | None:
    """The reply up to and including the opening verdict tag, the context in which the model
    chooses its verdict: the reply's own tag when it wrote `</reasoning>` then `<verdict>`;
    the tag appended to a closed reasoning that was followed by anything else (a malformed
    tail); None when the reasoning never closed (no decision was reached)."""
    end = reply.find(CLOSE_REASONING)
    if end < 0:
        return None
    end += len(CLOSE_REASONING)
    rest = reply[end:]
    stripped = rest.lstrip()
    if stripped.startswith(OPEN_TAG):
        return reply[:end + len(rest) - len(stripped) + len(OPEN_TAG)]
    return reply[:end] + OPEN_TAG


def decision_context_ids(tokenizer, prefix: str) -> list[int]:
    """Token ids of `prefix` (ending in the verdict tag) as they are when a verdict follows,
    i.e. as the reply was tokenised in training: `prefix + "A</verdict>"` is tokenised and cut
    where the decision token starts, so a tokenizer that merges across the boundary cannot
    shift the position."""
    probe = prefix + format_target("x", "A").split(OPEN_TAG, 1)[1]
    ids = tokenizer.encode(probe, add_special_tokens=False)
    alone = tokenizer.encode(prefix, add_special_tokens=False)
    at = len(alone)
    if ids[:at] == alone and tokenizer.decode(ids[at:]).startswith("A"):
        return list(alone)
    at = _decision_index(tokenizer, ids, len(prefix))
    return list(ids[:at])
