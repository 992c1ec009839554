"""The Ray engine: one judge spread over the workers of a Ray cluster (docs/scale.md).

Each worker is a Ray actor holding one in-process engine (vLLM or transformers, `ray_engine`)
loaded from the same checkpoint folder. The prompts are rendered, counted and checked here,
exactly as in-process (the folder's tokenizer and chat template are read locally); every call
(`generate`, `next_token_logprobs`) is cut into one contiguous shard per worker, the shards run
at once, and the replies come back in input order. Each request keeps the seed it would have
in-process, so a reply does not depend on which worker ran it.

A worker that dies (its process killed, its node lost) is restarted by Ray and the calls it
held are retried on the new one (`max_restarts`, `max_task_retries`): no request is lost, at
the cost of the restarted worker loading the model again. The cluster is `ray_address`, else
`RAY_ADDRESS`, else a local one started here (and stopped by `close`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from bias_judge.core.errors import InputError
from bias_judge.evaluation.inference.base import Engine, GenOut, request_seeds

RESTARTS = 3  # times one worker may be restarted before the run fails


def _worker_class():
    import ray

    @ray.remote(max_restarts=RESTARTS, max_task_retries=RESTARTS)
    class Worker:
        """One in-process engine on a Ray worker."""

        def __init__(self, model_dir, kind, dtype, max_model_len, seed, opts):
            from bias_judge.evaluation.inference import load_engine

            self.engine = load_engine(model_dir, engine=kind, dtype=dtype,
                                      max_model_len=max_model_len, seed=seed, **opts)

        def describe(self) -> dict:
            return {"name": self.engine.name, "dtype": self.engine.dtype,
                    "precision": self.engine.precision,
                    "supports_regex": self.engine.supports_regex, "pid": os.getpid()}

        def generate(self, conversations, kwargs):
            return [[(o.text, o.finish_reason, o.num_tokens, o.token_ids) for o in outs]
                    for outs in self.engine.generate(conversations, **kwargs)]

        def next_token_logprobs(self, contexts, token_ids):
            return self.engine.next_token_logprobs(contexts, token_ids)

    return Worker


def shards(count: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous [start, end) ranges, one per worker that gets anything, sizes differing by
    at most one."""
    workers = max(1, min(workers, count))
    base, extra = divmod(count, workers)
    out, start = [], 0
    for w in range(workers):
        end = start + base + (w < extra)
        out.append((start, end))
        start = end
    return [r for r in out if r[1] > r[0]]


class RayEngine(Engine):
    name = "ray"

    def __init__(self, model_dir: str | os.PathLike, *, dtype: str, max_model_len: int,
                 seed: int, ray_address: str | None = None, ray_workers: int = 2,
                 ray_engine: str = "auto", ray_cpus_per_worker: float = 1.0, **opts):
        super().__init__(model_dir, dtype=dtype, max_model_len=max_model_len, seed=seed)
        try:
            import ray
        except ImportError:
            raise InputError("engine 'ray' needs ray (pip install 'bias-judge[ray]')",
                             field="engine") from None
        if ray_engine in ("ray", "openai"):
            raise InputError(f"ray_engine must be an in-process engine (auto, vllm, "
                             f"transformers), got {ray_engine!r}",
                             field="engine_options.ray_engine")
        self._ray = ray
        address = ray_address or os.environ.get("RAY_ADDRESS") or None
        self._started_here = not ray.is_initialized() and address is None
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        inner = {k: v for k, v in opts.items() if v is not None
                 and k not in ("concurrency", "max_retries", "served_model")}
        worker = _worker_class().options(num_cpus=float(ray_cpus_per_worker))
        self.workers = [worker.remote(str(self.model_dir), ray_engine, dtype, self.max_model_len,
                                      self.seed, inner) for _ in range(max(1, int(ray_workers)))]
        described = ray.get([w.describe.remote() for w in self.workers])
        first = described[0]
        self.inner = first["name"]
        self.dtype, self.precision = first["dtype"], first["precision"]
        self.supports_regex = bool(first["supports_regex"])

    def worker_pids(self) -> list[int]:
        return [d["pid"] for d in self._ray.get([w.describe.remote() for w in self.workers])]

    def _spread(self, method: str, items: list, make_args) -> list:
        """Call `method` on every worker with its shard of `items`; results in input order."""
        ranges = shards(len(items), len(self.workers))
        refs = [getattr(self.workers[w], method).remote(*make_args(start, end))
                for w, (start, end) in enumerate(ranges)]
        out = []
        for part in self._ray.get(refs):
            out.extend(part)
        return out

    def generate(self, conversations: Sequence, *, temperature: float, max_new_tokens: int,
                 n: int = 1, seed=None, regex: str | None = None) -> list[list[GenOut]]:
        self._check_request(temperature=temperature, max_new_tokens=max_new_tokens, n=n,
                            regex=regex)
        if not conversations:
            return []
        conversations = list(conversations)
        self._check_lengths([self.prompt_ids(c) for c in conversations])
        seeds = request_seeds(seed, len(conversations), self.seed)
        common = {"temperature": float(temperature), "max_new_tokens": int(max_new_tokens),
                  "n": int(n), **({"regex": regex} if regex is not None else {})}
        replies = self._spread("generate", conversations, lambda s, e: (
            conversations[s:e], {**common, "seed": seeds[s:e]}))
        return [[GenOut(t, r, k, tuple(ids)) for t, r, k, ids in outs] for outs in replies]

    def _next_token_logprobs(self, contexts, token_ids):
        return self._spread("next_token_logprobs", contexts,
                            lambda s, e: (contexts[s:e], token_ids))

    def _generate_ids(self, prompts, *, temperature, max_new_tokens, n, seeds):
        raise NotImplementedError("the ray engine sends conversations to its workers")

    def close(self) -> None:
        ray = getattr(self, "_ray", None)
        for w in getattr(self, "workers", []):
            try:
                ray.kill(w, no_restart=True)
            except Exception:  # already gone: closing never masks the real error
                pass
        self.workers = []
        if ray is not None and self._started_here and ray.is_initialized():
            ray.shutdown()
