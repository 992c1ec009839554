"""The engine interface every consumer codes against, and what both engines share: the
checkpoint checks, chat-template rendering, stop tokens and per-request seeds.

Both engines receive the same prompt token ids (rendered here, once, through the model's own
chat template), so a difference in output can only come from decoding, never from prompting.
"""

from __future__ import annotations

import hashlib
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.vocabulary import DTYPES
from bias_judge.models.folder import check_model_folder, load_tokenizer

Conversation = list[dict]
Seeds = int | Sequence[int] | None


@dataclass(frozen=True)
class GenOut:
    """One generated completion. `num_tokens` counts generated tokens including the stop
    token (as vLLM does); `finish_reason` is "stop" (end-of-turn/EOS) or "length"."""

    text: str
    finish_reason: str
    num_tokens: int
    token_ids: tuple[int, ...] = ()


def _fold_system(conversation: Conversation) -> Conversation:
    """For templates that reject a system role: the system text opens the first user turn."""
    if not conversation or conversation[0].get("role") != "system":
        return conversation
    system, rest = conversation[0]["content"], list(conversation[1:])
    if rest and rest[0].get("role") == "user":
        rest[0] = {**rest[0], "content": f"{system}\n\n{rest[0]['content']}"}
    else:
        rest.insert(0, {"role": "user", "content": system})
    return rest


def render_prompt_ids(tokenizer, conversation: Conversation) -> list[int]:
    """Prompt token ids through the model's own chat template, generation prompt added and
    any thinking mode off (the judge is run without thinking blocks)."""
    return render_conversation(tokenizer, conversation)[1]


def render_conversation(tokenizer, conversation: Conversation) -> tuple[Conversation, list[int]]:
    """(the conversation as the template takes it, its prompt ids): the system turn folded
    into the first user turn where the template refuses a system role. A server that applies
    the template itself is sent that conversation."""
    from jinja2 import TemplateError

    def render(conv):
        out = tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=True,
                                            enable_thinking=False)
        ids = out["input_ids"] if hasattr(out, "keys") else out
        return [int(i) for i in ids]

    try:
        try:
            return conversation, render(conversation)
        except TemplateError:
            folded = _fold_system(conversation)
            if folded is conversation:
                raise
            return folded, render(folded)
    except Exception as exc:  # noqa: BLE001
        # The template is the checkpoint's code: besides jinja's own errors (the sandbox's
        # SecurityError among them) it raises whatever Python raises inside it, a TypeError
        # for `{% include %}` (no loader), ZeroDivisionError, and so on. All are bad input.
        raise InputError(f"the chat template fails to render ({type(exc).__name__}: {exc})",
                         file=str(getattr(tokenizer, "name_or_path", "") or "model"),
                         field="chat_template") from None


def stop_token_ids(model_dir: str | os.PathLike, tokenizer) -> list[int]:
    """End-of-turn ids: the tokenizer's EOS plus every EOS in generation_config.json (chat
    models often end turns with a token other than the tokenizer's EOS)."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    gen_cfg = Path(model_dir) / "generation_config.json"
    if gen_cfg.is_file():
        import json

        eos = json.loads(gen_cfg.read_text(encoding="utf-8")).get("eos_token_id")
        if isinstance(eos, int):
            ids.add(eos)
        elif isinstance(eos, list):
            ids.update(int(e) for e in eos)
    return sorted(ids)


def model_context_limit(model_dir: str | os.PathLike) -> int | None:
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(str(model_dir))
    text_cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    limit = getattr(text_cfg, "max_position_embeddings", None)
    return int(limit) if limit else None


def effective_max_model_len(model_dir: str | os.PathLike, requested: int) -> int:
    limit = model_context_limit(model_dir)
    if limit is not None and requested > limit:
        print(f"warning: max_model_len {requested} exceeds the model's {limit} positions; "
              f"using {limit}", file=sys.stderr)
        return limit
    return requested


def derive_seed(*parts) -> int:
    """A stable 63-bit seed from any parts (ints, strings): no Python hash randomisation."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def request_seeds(seed: Seeds, count: int, default: int) -> list[int]:
    """One seed per request: a list is taken as given, an int (or None: the engine's seed)
    applies to every request."""
    if seed is None:
        return [default] * count
    if isinstance(seed, int):
        return [seed] * count
    seeds = [int(s) for s in seed]
    if len(seeds) != count:
        raise ValueError(f"{len(seeds)} seeds for {count} conversations")
    return seeds


class Engine(ABC):
    """A loaded judge/generator model. `generate` returns, per conversation, `n` outputs."""

    name: str = "engine"

    def __init__(self, model_dir: str | os.PathLike, *, dtype: str, max_model_len: int,
                 seed: int):
        if dtype not in DTYPES:
            raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}",
                             field="dtype")
        self.model_dir = check_model_folder(model_dir)
        self.tokenizer = load_tokenizer(self.model_dir, padding_side="left")
        self.dtype = dtype
        self.precision: dict | None = None  # set by engines that load the weights themselves
        self.max_model_len = effective_max_model_len(self.model_dir, int(max_model_len))
        self.seed = int(seed)
        self.stop_ids = stop_token_ids(self.model_dir, self.tokenizer)

    def _resolve_dtype(self, dtype: str) -> str:
        """`auto` made concrete for this machine (core/precision.py), with a one-line warning
        for an explicit dtype it only emulates; kept in `precision` for the artifacts."""
        from bias_judge.core import precision

        warning = precision.emulation_warning(dtype, field="dtype")
        if warning:
            print(warning, file=sys.stderr)
        self.dtype = precision.resolve_dtype(dtype)
        self.precision = precision.record(dtype, self.dtype)
        return self.dtype

    def prompt_ids(self, conversation: Conversation) -> list[int]:
        return render_prompt_ids(self.tokenizer, conversation)

    def count_prompt_tokens(self, conversation: Conversation) -> int:
        return len(self.prompt_ids(conversation))

    def count_text_tokens(self, text: str) -> int:
        """Tokens of plain text, no special tokens (what verbosity bias measures)."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def _check_lengths(self, prompts: list[list[int]]) -> None:
        for i, ids in enumerate(prompts):
            if len(ids) >= self.max_model_len:
                raise ValueError(f"conversation {i}: prompt of {len(ids)} tokens leaves no room "
                                 f"in max_model_len {self.max_model_len}; filter with "
                                 "count_prompt_tokens first")

    # Engines that can hold a generation to a regular expression (constrained decoding).
    supports_regex = False

    def generate(self, conversations: Sequence[Conversation], *, temperature: float,
                 max_new_tokens: int, n: int = 1, seed: Seeds = None,
                 regex: str | None = None) -> list[list[GenOut]]:
        """Greedy at temperature 0, else sampling seeded per request (`seed`: one int for all
        requests, one per conversation, or None for the engine seed). Generation stops at an
        end-of-turn token or after max_new_tokens (or at max_model_len, whichever is first).
        `regex`: every generated text must match it (engines with `supports_regex` only)."""
        self._check_request(temperature=temperature, max_new_tokens=max_new_tokens, n=n,
                            regex=regex)
        if not conversations:
            return []
        prompts = [self.prompt_ids(c) for c in conversations]
        self._check_lengths(prompts)
        seeds = request_seeds(seed, len(prompts), self.seed)
        extra = {"regex": regex} if regex is not None else {}
        return self._generate_ids(prompts, temperature=float(temperature),
                                  max_new_tokens=int(max_new_tokens), n=int(n), seeds=seeds,
                                  **extra)

    def continue_replies(self, conversations: Sequence[Conversation], replies: Sequence[str], *,
                         max_new_tokens: int, regex: str | None = None) -> list[GenOut]:
        """Greedy continuation of assistant replies already begun: conversation i's reply so
        far is `replies[i]`, and the model writes on from its end (e.g. a forced closing)."""
        self._check_request(temperature=0.0, max_new_tokens=max_new_tokens, n=1, regex=regex)
        if not conversations:
            return []
        prompts = [self.prompt_ids(c) + list(self.tokenizer.encode(r, add_special_tokens=False))
                   for c, r in zip(conversations, replies, strict=True)]
        self._check_lengths(prompts)
        extra = {"regex": regex} if regex is not None else {}
        outs = self._generate_ids(prompts, temperature=0.0, max_new_tokens=int(max_new_tokens),
                                  n=1, seeds=request_seeds(None, len(prompts), self.seed), **extra)
        return [o[0] for o in outs]

    def _check_request(self, *, temperature: float, max_new_tokens: int, n: int,
                       regex: str | None) -> None:
        if regex is not None and not self.supports_regex:
            raise NotImplementedError(f"the {self.name} engine cannot constrain generation "
                                      "to a regular expression")
        if n < 1 or max_new_tokens < 1:
            raise ValueError("n and max_new_tokens must be >= 1")
        if temperature < 0:
            raise ValueError("temperature must be >= 0")

    # How many of the most likely next tokens a server or vLLM returns with their
    # log-probabilities; a verdict token outside them counts as probability 0 (recorded as
    # the verdict mass, docs/trust.md).
    TOP_LOGPROBS = 20

    def next_token_logprobs(self, contexts: Sequence[Sequence[int]],
                            token_ids: Sequence[int]) -> list[list[float]]:
        """Per context (token ids, shorter than max_model_len), the log-probability of each of
        `token_ids` as the next token, from one forward pass at T = 1 over the whole
        vocabulary (-inf for a token outside the TOP_LOGPROBS an engine is told)."""
        if not contexts:
            return []
        self._check_lengths([list(c) for c in contexts])
        return self._next_token_logprobs([list(c) for c in contexts], list(token_ids))

    def _next_token_logprobs(self, contexts: list[list[int]],
                             token_ids: list[int]) -> list[list[float]]:
        raise NotImplementedError(f"the {self.name} engine gives no token probabilities")

    @abstractmethod
    def _generate_ids(self, prompts: list[list[int]], *, temperature: float,
                      max_new_tokens: int, n: int, seeds: list[int]) -> list[list[GenOut]]:
        ...

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def finish(self, token_ids: Sequence[int]) -> tuple[str, int, tuple[int, ...]]:
        """(finish_reason, num_tokens, ids up to and including the first stop token)."""
        stops = set(self.stop_ids)
        for i, tok in enumerate(token_ids):
            if int(tok) in stops:
                kept = tuple(int(t) for t in token_ids[: i + 1])
                return "stop", i + 1, kept
        kept = tuple(int(t) for t in token_ids)
        return "length", len(kept), kept

    def close(self) -> None:
        """Release the model; the engine is unusable afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
