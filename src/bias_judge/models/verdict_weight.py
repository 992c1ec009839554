"""The verdict's weight in the SFT loss.

A judge's reply is dozens of reasoning tokens and one decision token. Under the plain token
mean the decision gets a few percent of the gradient, and a small judge learns to write the
reasoning and then guess: on the human holdout, SmolLM2 after 800 stepwise rows wrote the same
picks and classes for both response orders and still gave verdicts that did not mirror each
other in 72 of the 127 pairs where the two orders disagreed. `verdict_weight` multiplies the
loss of the decision token (the first token after `<verdict>`: "A", "B", or the first piece of
"TIE") so that the verdict is learnt as the consequence of the reasoning before it.

The weight is applied where TRL computes the loss from per-token log-probabilities: a
collator adds `loss_weights` (one per input position) to each batch, and a thin wrapper of the
model's forward scales the log-probabilities of the labelled positions by them, on CPU (the
project's reply-only LM head) and GPU (TRL's fused head) alike.
"""

from __future__ import annotations

import types

from bias_judge.data.decision_token import MARKER_TOKENS, decision_marker  # noqa: F401


def decision_positions(input_ids: list[int], labelled: list[bool], marker: tuple[int, ...]) -> list[int]:
    """Positions of decision tokens: the labelled token right after each first occurrence of
    `marker` in a reply (the opening tag; the closing tag is followed by no decision)."""
    out, n, i = [], len(marker), 0
    while i + n < len(input_ids):
        if tuple(input_ids[i:i + n]) == marker and labelled[i + n]:
            out.append(i + n)
            i += n + 1
            # skip to the end of this reply's verdict before looking again
            while i < len(input_ids) and labelled[i]:
                i += 1
            continue
        i += 1
    return out


class WeightingCollator:
    """Wraps a collator that yields `input_ids` and `labels`; adds `loss_weights`."""

    def __init__(self, inner, marker: tuple[int, ...], weight: float):
        self.inner, self.marker, self.weight = inner, marker, float(weight)

    def __call__(self, examples):
        import torch

        batch = self.inner(examples)
        ids, labels = batch["input_ids"], batch["labels"]
        weights = torch.ones(ids.shape, dtype=torch.float32)
        for row in range(ids.shape[0]):
            labelled = (labels[row] != -100).tolist()
            for pos in decision_positions(ids[row].tolist(), labelled, self.marker):
                weights[row, pos] = self.weight
        batch["loss_weights"] = weights
        return batch


def install(model) -> None:
    """Let `model` (the base under any PEFT wrapper, after TRL patched its forward) take
    `loss_weights` and scale the per-token log-probabilities of its fused output by them."""
    inner = model.forward

    def forward(self, *args, loss_weights=None, **kwargs):
        out = inner(*args, **kwargs)
        if loss_weights is not None and kwargs.get("fused_lm_head") and out.log_probs is not None:
            scale = loss_weights[:, 1:].to(out.log_probs.device, out.log_probs.dtype)
            out.log_probs = out.log_probs * scale
        return out

    model.forward = types.MethodType(forward, model)
