"""The transformers engine: batched `generate` with left padding.

It is the fallback where vLLM is not installed and the reference for parity. Sampling draws
each row's token from that row's own seeded `torch.Generator` (inside a logits processor that
leaves only the drawn token), so a sample depends on its request's seed and never on what else
shares the batch.
"""

from __future__ import annotations

import os

from transformers import LogitsProcessor, StoppingCriteria

from bias_judge.evaluation.inference.base import Engine, GenOut, derive_seed


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, model_dir: str | os.PathLike, *, dtype: str, max_model_len: int,
                 seed: int, batch_size: int = 8,
                 device: str | None = None, threads: int | None = None, **_ignored):
        super().__init__(model_dir, dtype=dtype, max_model_len=max_model_len, seed=seed)
        import torch
        from transformers import AutoModelForCausalLM

        if threads:
            # On 2 shared cores one thread is far steadier than torch's default (docs/stack.md).
            torch.set_num_threads(int(threads))

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = getattr(torch, self._resolve_dtype(dtype))
        self.model = AutoModelForCausalLM.from_pretrained(str(self.model_dir), dtype=torch_dtype,
                                                          use_safetensors=True)
        self.model.to(self.device)
        self.model.eval()
        self.batch_size = max(1, int(batch_size))

    def _generate_ids(self, prompts, *, temperature, max_new_tokens, n, seeds):
        # Rows: each prompt n times; row j of a request samples with its own seed.
        rows = [(p, k, derive_seed(seeds[p], k)) for p in range(len(prompts)) for k in range(n)]
        # Similar lengths together: less padding, and the order is fixed by the input alone.
        rows.sort(key=lambda r: (len(prompts[r[0]]), r[0], r[1]))
        results: list[list[GenOut | None]] = [[None] * n for _ in prompts]
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start:start + self.batch_size]
            outs = self._run_chunk([prompts[p] for p, _, _ in chunk], [s for _, _, s in chunk],
                                   temperature=temperature, max_new_tokens=max_new_tokens)
            for (p, k, _), out in zip(chunk, outs):
                results[p][k] = out
        return results  # type: ignore[return-value]

    def _run_chunk(self, prompts: list[list[int]], seeds: list[int], *, temperature: float,
                   max_new_tokens: int) -> list[GenOut]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts],
                                 device=self.device)
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts],
                                 device=self.device)
        # A prompt near the context end gets only the room that is left (as in vLLM).
        limits = [min(max_new_tokens, self.max_model_len - len(p)) for p in prompts]
        config = GenerationConfig(max_new_tokens=max(limits), do_sample=False,
                                  eos_token_id=self.stop_ids, pad_token_id=pad,
                                  bos_token_id=self.tokenizer.bos_token_id)
        processors = LogitsProcessorList()
        if temperature > 0:
            processors.append(_SeededSampler(seeds, temperature, self.device))
        criteria = StoppingCriteriaList()
        if min(limits) < max(limits):
            criteria.append(_RowLimits(limits, width))
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=attention,
                                      generation_config=config, logits_processor=processors,
                                      stopping_criteria=criteria)
        results = []
        for row, limit in zip(out[:, width:].tolist(), limits):
            reason, num, kept = self.finish(row[:limit])
            results.append(GenOut(self.decode(kept), reason, num, kept))
        return results

    def _next_token_logprobs(self, contexts, token_ids):
        import torch

        order = sorted(range(len(contexts)), key=lambda i: (len(contexts[i]), i))
        out: list[list[float] | None] = [None] * len(contexts)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            width = max(len(contexts[i]) for i in chunk)
            ids = torch.tensor([[pad] * (width - len(contexts[i])) + contexts[i] for i in chunk],
                               device=self.device)
            mask = torch.tensor([[0] * (width - len(contexts[i])) + [1] * len(contexts[i])
                                 for i in chunk], device=self.device)
            # Left padding: positions count from each row's first real token, as in generate.
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                    logits_to_keep=1).logits[:, -1, :]
            logprobs = torch.log_softmax(logits.float(), dim=-1)[:, token_ids].tolist()
            for i, row in zip(chunk, logprobs):
                out[i] = row
        return out  # type: ignore[return-value]

    def close(self) -> None:
        self.model = None
        import gc
        gc.collect()


class _SeededSampler(LogitsProcessor):
    """Draws each row's next token at `temperature` with the row's generator and returns
    logits where only that token remains, so greedy decoding emits the draw."""

    def __init__(self, seeds: list[int], temperature: float, device):
        import torch

        self.temperature = temperature
        self.generators = []
        for s in seeds:
            g = torch.Generator(device=device)
            g.manual_seed(s)
            self.generators.append(g)

    def __call__(self, input_ids, scores):
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        picks = torch.cat([torch.multinomial(probs[i], 1, generator=g)
                           for i, g in enumerate(self.generators)])
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(len(picks)), picks] = 0.0
        return out


class _RowLimits(StoppingCriteria):
    """Per-row new-token limits within one batch (rows whose context runs out sooner)."""

    def __init__(self, limits: list[int], prompt_width: int):
        self.limits = limits
        self.width = prompt_width

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        generated = input_ids.shape[1] - self.width
        return torch.tensor([generated >= lim for lim in self.limits], device=input_ids.device)
