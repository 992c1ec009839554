"""A faster LM head for CPU training, in place of TRL 1.16's fused one.

TRL computes per-token log-probabilities with a chunked "fused LM head". With Triton (GPUs) it
scores only the positions that carry a label; without Triton (CPUs) its torch fallback scores
every position of the sequence, in float32 tiles, forward and again in backward. For a judge
row that is ~550 prompt tokens scored for nothing: measured on SmolLM2-135M, ~40 % of the
whole training step. This head returns the same outputs (log-probabilities of the labels,
entropy, top-1 flags, the mask, the mean loss) from a plain projection of the labelled
positions only. It is installed on CPU runs only; GPU runs keep TRL's Triton kernel.
"""

from __future__ import annotations

import types


def install(model) -> bool:
    """Wrap the forward TRL patched onto `model` (the base model under any PEFT wrapper). Returns
    False, leaving the model as it is, when the model has something this head does not
    reproduce (a logit scale) or TRL did not patch it."""
    import torch

    config = model.config.get_text_config()
    for attr in ("logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling"):
        if getattr(config, attr, None) not in (None, 1, 1.0):
            return False
    softcap = getattr(config, "final_logit_softcapping", None)
    trl_forward = model.forward
    if "fused_lm_head" not in getattr(trl_forward, "__code__", types.SimpleNamespace(co_varnames=())).co_varnames:
        return False

    from trl.trainer.utils import FusedCausalLMOutput

    def forward(self, *args, fused_lm_head=False, labels=None, shift_labels=None,
                num_items_in_batch=None, **kwargs):
        if not fused_lm_head or shift_labels is not None or kwargs.get("output_router_logits"):
            return trl_forward(*args, fused_lm_head=fused_lm_head, labels=labels,
                               shift_labels=shift_labels, num_items_in_batch=num_items_in_batch, **kwargs)
        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state[:, :-1]
        targets = labels[:, 1:]
        mask = targets != -100
        logits = self.get_output_embeddings()(hidden[mask]).float()
        if softcap:
            logits = softcap * torch.tanh(logits / softcap)
        log_z = torch.logsumexp(logits, dim=-1)
        picked = targets[mask]
        token_lp = logits.gather(-1, picked.unsqueeze(-1)).squeeze(-1) - log_z
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)
            token_entropy = log_z - (probs * logits).sum(-1)
            token_top1 = logits.argmax(-1) == picked
            token_mean = logits.mean(-1)
            token_sq = torch.log((probs * probs).sum(-1))

        def scatter(values):
            return values.new_zeros(mask.shape).masked_scatter(mask, values)

        log_probs = scatter(token_lp)
        denom = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(
            loss=-log_probs.sum() / denom, log_probs=log_probs, entropy=scatter(token_entropy),
            log_sum_sq_probs=scatter(token_sq), mean_logits=scatter(token_mean),
            is_top1=scatter(token_top1), label_mask=mask)

    model.forward = types.MethodType(forward, model)
    return True


def install_on_cpu(trainer) -> bool:
    """Install on the trainer's model when training runs on the CPU."""
    import torch

    if torch.cuda.is_available():
        return False
    model = trainer.accelerator.unwrap_model(trainer.model)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return install(base)
