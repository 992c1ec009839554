"""The one loop by which judge prompts reach an engine, for the evaluate stage's seven passes
(evaluation/passes.py), `bias-judge judge` and the probes (evaluation/judge.py) alike.

It holds the rules they share, each once:
- **too long**: a prompt of `max_model_len` tokens or more is never sent or truncated; its
  request comes back as None and its runs are recorded with `finish_reason` "too_long";
- **seeds**: a pair's sampling seed is fixed by the run seed and the pair alone (its
  `pair_id`, else its text), so its samples do not depend on the other pairs or the file
  order; the swapped order's seed also names the order;
- **guided decoding**: only an engine that holds replies to a regular expression may be asked
  for it (checked before a model is loaded, and again on the loaded engine);
- **batching**: requests go to the engine `batch_size` at a time, under one progress bar.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from bias_judge.core.errors import InputError
from bias_judge.core.progress import bar
from bias_judge.data.prompt import guided_reply_regex
from bias_judge.evaluation.inference.base import derive_seed

TOO_LONG = "too_long"
SEED_RANGE = 2**31 - 1  # seeds stay 32-bit: llama.cpp-based servers read them so


def pair_identity(pair: dict) -> str:
    """What a pair's seeds derive from: its pair_id, else a digest of its texts."""
    if pair.get("pair_id"):
        return str(pair["pair_id"])
    content = json.dumps([pair["question_text"], pair.get("answer_choices"),
                          pair["response_a"]["text"], pair["response_b"]["text"]],
                         sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def pair_seed(seed: int, pair: dict, order: str = "original") -> int:
    """The sampling seed of one order of one pair (the original order's is the pair's own)."""
    parts = ("eval-samples", seed, pair_identity(pair)) + (() if order == "original" else (order,))
    return derive_seed(*parts) % SEED_RANGE


def guided_refusal(engine_name: str, field: str = "guided") -> InputError:
    return InputError("guided decoding needs the vllm engine or a vLLM server (--base-url); "
                      f"the {engine_name} engine cannot hold replies to the judge format",
                      field=field)


def check_guided(guided: bool, engine: str, model_dir, *, field: str = "guided") -> None:
    """Before loading: refuse guided decoding with an engine that cannot do it (`field`: where
    the request came from, `eval.guided` or a command's --guided)."""
    from bias_judge.evaluation.inference import GUIDED_ENGINES, resolve_engine

    if guided:
        resolved = resolve_engine(engine, model_dir)
        if resolved not in GUIDED_ENGINES:
            raise guided_refusal(resolved, field)


@dataclass(frozen=True)
class Request:
    key: Hashable
    conversation: list[dict]
    temperature: float = 0.0
    n: int = 1
    seed: int | None = None


def fits(engine, conversation) -> bool:
    return engine.count_prompt_tokens(conversation) < engine.max_model_len


def generate_all(engine, requests: Sequence[Request], *, max_new_tokens: int, guided: bool,
                 batch_size: int, desc: str) -> dict[Hashable, list | None]:
    """{key: the request's n GenOut replies, or None where its prompt is too long}. Requests
    that share a temperature and n go to the engine together, in input order."""
    if guided and not getattr(engine, "supports_regex", False):
        raise guided_refusal(engine.name)
    constraint = {"regex": guided_reply_regex(max_new_tokens)} if guided else {}
    out: dict[Hashable, list | None] = {}
    sent = []
    for r in requests:
        if fits(engine, r.conversation):
            sent.append(r)
        else:
            out[r.key] = None
    groups: dict[tuple[float, int], list[Request]] = {}
    for r in sent:
        groups.setdefault((r.temperature, r.n), []).append(r)
    size = max(1, batch_size)
    with bar(total=len(sent), desc=desc, unit="prompt") as progress:
        for (temperature, n), group in groups.items():
            for start in range(0, len(group), size):
                chunk = group[start:start + size]
                replies = engine.generate(
                    [r.conversation for r in chunk], temperature=temperature,
                    max_new_tokens=max_new_tokens, n=n,
                    seed=[r.seed for r in chunk] if temperature > 0 else None, **constraint)
                for r, reply in zip(chunk, replies):
                    if len(reply) != n:
                        raise RuntimeError(f"engine returned {len(reply)} replies, asked for {n}")
                    out[r.key] = reply
                progress.update(len(chunk))
    return out


def distributions(engine, requests: Sequence[tuple[Hashable, list[dict], str]], *,
                  batch_size: int) -> dict:
    """{key: (verdict distribution as seen, mass) or None} for (key, conversation, greedy reply
    text) triples (evaluation/probabilities.py), `batch_size` at a time."""
    from bias_judge.evaluation.probabilities import order_distributions

    out = {}
    size = max(1, batch_size)
    with bar(total=len(requests), desc="verdict probabilities", unit="prompt") as progress:
        for start in range(0, len(requests), size):
            chunk = requests[start:start + size]
            got = order_distributions(engine, [(conv, text) for _, conv, text in chunk])
            out.update(zip((key for key, _, _ in chunk), got))
            progress.update(len(chunk))
    return out
