"""The OpenAI-compatible engine: the judge served elsewhere (`vllm serve`, a serving cluster
behind one URL, any server that speaks the chat-completions API).

The checkpoint folder is still read here, for its tokenizer, chat template, stop tokens and
context limit (its weights are not loaded): prompts are counted and checked against the
context exactly as in-process, a template without a system role gets the same folded
conversation, and the stop tokens are sent with every request, so the server and the
in-process engines decode the same prompt the same way.

Requests go out on a bounded thread pool (`concurrency` in flight); the openai client retries
connection errors, 408/409/429 and 5xx replies with exponential back-off (`max_retries`).
The n samples of a request are n requests, seeded `derive_seed(seed, k)` like the
transformers engine, because many servers ignore `n`. Beyond the standard fields each
request carries vLLM's sampling extras (no top-k/min-p/repetition penalty, the stop token
ids, thinking off, and the reply regex when guided); servers without them ignore them.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from bias_judge.core.errors import InputError
from bias_judge.evaluation.inference.base import (Engine, GenOut, derive_seed, render_conversation,
                                                  request_seeds)

# Seeds stay below 2**31: llama.cpp-based servers read the seed as a 32-bit integer.
SEED_RANGE = 2**31 - 1


def api_root(base_url: str) -> str:
    """The OpenAI API root of a server URL: `http://host:8000` means `http://host:8000/v1`
    (where vLLM, llama.cpp and Ollama serve it); a URL with a path is taken as given."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"not an http(s) URL: {base_url!r}", field="base_url")
    url = base_url.rstrip("/")
    return url if parts.path.strip("/") else f"{url}/v1"


class OpenAIEngine(Engine):
    name = "openai"
    supports_regex = True  # vLLM's structured outputs; other servers may ignore the regex

    def __init__(self, model_dir: str | os.PathLike, *, base_url: str, dtype: str,
                 max_model_len: int, seed: int, concurrency: int, max_retries: int,
                 served_model: str | None = None, timeout_s: float | None = None,
                 **_ignored):
        super().__init__(model_dir, dtype=dtype, max_model_len=max_model_len, seed=seed)
        import openai

        self._openai = openai
        # The server chose the weights' dtype when it started.
        self.dtype = "server"
        self.base_url = api_root(base_url)
        self.client = openai.OpenAI(
            base_url=self.base_url, api_key=os.environ.get("OPENAI_API_KEY") or "EMPTY",
            max_retries=int(max_retries),
            **({"timeout": float(timeout_s)} if timeout_s else {}))
        self.concurrency = max(1, int(concurrency))
        self.model = self._served_model(served_model)
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                       thread_name_prefix="judge-request")

    def _call(self, fn, *args, **kwargs):
        """One API call; after the client's retries, a failure is one line naming the URL."""
        try:
            return fn(*args, **kwargs)
        except self._openai.APIStatusError as exc:
            raise InputError(f"server answered HTTP {exc.status_code}: {_message(exc)}",
                             file=self.base_url, field="base_url") from None
        except self._openai.APIConnectionError as exc:
            raise InputError(f"server not reachable ({exc.__cause__ or exc}); is it running?",
                             file=self.base_url, field="base_url") from None

    def _served_model(self, wanted: str | None) -> str:
        """The model name to send: `wanted`, else the served model whose name is this
        checkpoint's folder (`vllm serve DIR` names it DIR). Never just the server's only
        model: a server started for another checkpoint would be scored in this one's name.
        The server's own context limit (vLLM reports `max_model_len`) lowers ours when it is
        smaller."""
        models = {m.id: m for m in self._call(self.client.models.list).data}
        served = ", ".join(sorted(models)) or "nothing"
        if wanted is None:
            here = self.model_dir.resolve()
            wanted = next((m for m in sorted(models) if Path(m).resolve() == here), None)
            if wanted is None:
                raise InputError(f"the server serves {served}, not the checkpoint "
                                 f"{self.model_dir}: serve it under that name (`vllm serve "
                                 f"{self.model_dir}` from this folder, or --served-model-name "
                                 f"{self.model_dir}), or name the served model "
                                 "(--served-model)", file=self.base_url, field="served_model")
        elif wanted not in models:
            raise InputError(f"the server does not serve {wanted!r} (it serves {served})",
                             file=self.base_url, field="served_model")
        limit = getattr(models[wanted], "max_model_len", None)
        if isinstance(limit, int) and limit < self.max_model_len:
            print(f"warning: {self.base_url}: the server's context is {limit} tokens, less than "
                  f"max_model_len {self.max_model_len}; using {limit}", file=sys.stderr)
            self.max_model_len = limit
        return wanted

    def generate(self, conversations, *, temperature: float, max_new_tokens: int, n: int = 1,
                 seed=None, regex: str | None = None) -> list[list[GenOut]]:
        self._check_request(temperature=temperature, max_new_tokens=max_new_tokens, n=n,
                            regex=regex)
        if not conversations:
            return []
        rendered = [render_conversation(self.tokenizer, c) for c in conversations]
        self._check_lengths([ids for _, ids in rendered])
        seeds = request_seeds(seed, len(rendered), self.seed)
        # Greedy replies are the same for every k: one request stands for all n.
        draws = 1 if temperature == 0 else n
        jobs = [(i, k) for i in range(len(rendered)) for k in range(draws)]
        futures = [self.pool.submit(self._request, *rendered[i], temperature=float(temperature),
                                    max_new_tokens=int(max_new_tokens),
                                    seed=derive_seed(seeds[i], k) % SEED_RANGE, regex=regex)
                   for i, k in jobs]
        try:
            done = [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        out: list[list[GenOut]] = [[] for _ in rendered]
        for (i, _), reply in zip(jobs, done):
            out[i].append(reply)
        return [replies * n if draws == 1 else replies for replies in out]

    def _request(self, conversation, ids, *, temperature, max_new_tokens, seed, regex) -> GenOut:
        extra = {"top_k": 0, "min_p": 0.0, "repetition_penalty": 1.0,
                 "stop_token_ids": self.stop_ids, "skip_special_tokens": True,
                 "chat_template_kwargs": {"enable_thinking": False}}
        if regex is not None:
            extra["structured_outputs"] = {"regex": regex}
        body = dict(model=self.model, messages=conversation, n=1, temperature=temperature,
                    top_p=1.0,
                    # A prompt near the context end gets only the room that is left (as
                    # in-process); the server would refuse the request otherwise.
                    max_tokens=min(max_new_tokens, self.max_model_len - len(ids)))
        if temperature > 0:
            body["seed"] = seed
        reply = self._call(self.client.chat.completions.create, **body, extra_body=extra)
        choice = reply.choices[0]
        text = choice.message.content or ""
        reason = "length" if choice.finish_reason == "length" else "stop"
        usage = getattr(reply, "usage", None)
        tokens = getattr(usage, "completion_tokens", None)
        if not isinstance(tokens, int):  # a server that reports no usage: count the text
            tokens = self.count_text_tokens(text) + (reason == "stop")
        return GenOut(text, reason, tokens)

    def _next_token_logprobs(self, contexts, token_ids):
        futures = [self.pool.submit(self._logprob_request, ids, token_ids) for ids in contexts]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def _logprob_request(self, ids: list[int], token_ids: list[int]) -> list[float]:
        """One completions request on the token ids themselves (no template applied by the
        server), one greedy token, the top log-probabilities; vLLM names the tokens
        "token_id:N" with return_tokens_as_token_ids, other servers by their text."""
        reply = self._call(self.client.completions.create, model=self.model, prompt=ids,
                           max_tokens=1, temperature=0.0, logprobs=self.TOP_LOGPROBS,
                           extra_body={"return_tokens_as_token_ids": True,
                                       "skip_special_tokens": False})
        logprobs = getattr(reply.choices[0], "logprobs", None)
        tops = getattr(logprobs, "top_logprobs", None)
        if not tops:
            raise InputError("the server returned no log-probabilities (completions with "
                             "`logprobs`); judge without probabilities (--no-probabilities)",
                             file=self.base_url, field="logprobs")
        top = tops[0] or {}
        by_id: dict[int, float] = {}
        for key, value in top.items():
            if key.startswith("token_id:"):
                by_id[int(key.split(":", 1)[1])] = float(value)
        if not by_id:
            text = {self.tokenizer.decode([t]): t for t in token_ids}
            by_id = {text[k]: float(v) for k, v in top.items() if k in text}
        return [by_id.get(t, float("-inf")) for t in token_ids]

    def _generate_ids(self, prompts, *, temperature, max_new_tokens, n, seeds):
        raise NotImplementedError("the openai engine sends conversations, not token ids")

    def close(self) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        self.pool = self.client = None


def _message(exc) -> str:
    """The server's own words: vLLM answers {"error": {"message": ...}} (older releases
    {"message": ...}); the client keeps that body."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error")
        msg = err.get("message") if isinstance(err, dict) else body.get("message")
        if msg:
            return str(msg).splitlines()[0]
    return (str(getattr(exc, "message", exc)).splitlines() or [type(exc).__name__])[0]
