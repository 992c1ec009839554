"""Training rows: a deterministic subset, and a check of every row against the chat template
and the length budget before any training starts."""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal, get_args

from bias_judge.core.errors import InputError

Overlong = Literal["drop", "truncate", "error"]  # the settings' `overlong` (models/settings.py)
OVERLONG_POLICIES = get_args(Overlong)


def select_rows(rows: list[dict], max_rows: int | None, seed: int,
                balance_verdicts: bool = False) -> list[dict]:
    """At most `max_rows` rows, whole pairs first (both orders of a pair stay together so the
    subset keeps the position swap balanced), pairs picked by a seeded shuffle; file order kept.

    `balance_verdicts`: pairs are drawn two decided (A in one order, B in the other) to one TIE,
    so that the subset teaches A, B and TIE about equally often, until either kind runs out."""
    if max_rows is None or len(rows) <= max_rows:
        return list(rows)
    by_pair: OrderedDict[str, list[int]] = OrderedDict()
    for i, row in enumerate(rows):
        by_pair.setdefault(row["pair_id"], []).append(i)
    pair_ids = sorted(by_pair)
    random.Random(seed).shuffle(pair_ids)
    if balance_verdicts:
        tie = [p for p in pair_ids if any(rows[i]["verdict"] == "TIE" for i in by_pair[p])]
        tie_set = set(tie)
        decided = [p for p in pair_ids if p not in tie_set]
        pair_ids = _interleave(decided, tie, per_round=(2, 1))
    keep: list[int] = []
    for pid in pair_ids:
        if len(keep) >= max_rows:
            break
        keep.extend(by_pair[pid])
    return [rows[i] for i in sorted(keep[:max_rows])]


def _interleave(first: list, second: list, per_round: tuple[int, int]) -> list:
    """`per_round[0]` items of `first`, then `per_round[1]` of `second`, and again; the rest of
    the longer list at the end."""
    out, i, j = [], 0, 0
    while i < len(first) or j < len(second):
        out += first[i:i + per_round[0]]
        out += second[j:j + per_round[1]]
        i, j = i + per_round[0], j + per_round[1]
    return out


@dataclass
class LengthReport:
    kept: list[dict]
    overlong: int = 0            # rows longer than max_length (dropped or truncated)
    max_tokens: int = 0
    mean_tokens: float = 0.0
    lengths: list[int] = field(default_factory=list)


def _ids(tokenizer, messages, add_generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt,
                                        tokenize=True, return_dict=True)
    return list(out["input_ids"])


def _squash(text: str) -> str:
    return " ".join(text.split())


def check_rows(tokenizer, rows: list[dict], completion_keys: tuple[str, ...], *, max_length: int,
               overlong: str, source: str) -> LengthReport:
    """Render every row with the chat template; the prompt rendered alone (with the generation
    prompt) must be an exact token prefix of prompt + completion, and the completion must
    survive rendering — otherwise the loss cannot be put on the completion only. Rows longer
    than `max_length` (longest of the completions) are dropped, kept for truncation, or an
    error, per `overlong`."""
    if overlong not in OVERLONG_POLICIES:
        raise InputError(f"unknown overlong policy {overlong!r}", field="overlong")
    if not getattr(tokenizer, "chat_template", None):
        raise InputError("the model's tokenizer has no chat template", field="model.chat_template")
    report = LengthReport(kept=[])
    for lineno, row in enumerate(rows, start=1):
        try:
            prompt_ids = _ids(tokenizer, row["prompt"], True)
        except Exception as exc:  # jinja raises its own errors for unsupported roles
            raise InputError(f"chat template cannot render the prompt ({exc})", file=source,
                             line=lineno, field="model.chat_template") from None
        longest = 0
        for key in completion_keys:
            try:
                full_ids = _ids(tokenizer, row["prompt"] + row[key], False)
            except Exception as exc:  # noqa: BLE001  the template's own code failed
                raise InputError(f"chat template cannot render the prompt with its '{key}' "
                                 f"reply ({type(exc).__name__}: {exc})", file=source,
                                 line=lineno, field="model.chat_template") from None
            if full_ids[:len(prompt_ids)] != prompt_ids:
                raise InputError(
                    "chat template cannot mark the completion: the prompt rendered with the "
                    "generation prompt is not a prefix of prompt + completion", file=source,
                    line=lineno, field="model.chat_template")
            rendered = tokenizer.decode(full_ids[len(prompt_ids):])
            if _squash(row[key][0]["content"]) not in _squash(rendered):
                raise InputError(
                    f"chat template cannot mark the completion: the '{key}' text does not appear "
                    "after the prompt when rendered", file=source, line=lineno,
                    field="model.chat_template")
            longest = max(longest, len(full_ids))
        report.lengths.append(longest)
        if longest > max_length:
            report.overlong += 1
            if overlong == "error":
                raise InputError(f"row has {longest} tokens, more than max_length {max_length}",
                                 file=source, line=lineno, field="max_length")
            if overlong == "drop":
                continue
        report.kept.append(row)
    if not report.kept:
        raise InputError(f"no rows left: all {len(rows)} exceed max_length {max_length}",
                         file=source, field="max_length")
    report.max_tokens = max(report.lengths, default=0)
    report.mean_tokens = sum(report.lengths) / len(report.lengths) if report.lengths else 0.0
    return report
