"""Token counting for verbosity bias: the judge's tokenizer, or whitespace words without one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bias_judge.core.errors import InputError

TokenCounter = Callable[[str], int]
WHITESPACE = "whitespace"


def whitespace_tokens(text: str) -> int:
    return len(text.split())


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_token_counter(path: str | os.PathLike) -> TokenCounter:
    """A counter from a `tokenizer.json` file or a tokenizer/model folder; special tokens are
    not added, so only the response text is counted."""
    p = Path(path)
    if not p.exists():
        raise InputError("tokenizer not found", file=str(path))
    if p.is_file():
        from tokenizers import Tokenizer
        try:
            tok = Tokenizer.from_file(str(p))
        except Exception as exc:  # the library raises bare Exceptions for bad json
            raise InputError(f"not a tokenizer.json ({_first_line(exc)})", file=str(path)) from None
        return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
    from transformers import AutoTokenizer
    try:
        tok = AutoTokenizer.from_pretrained(str(p))
    except Exception as exc:  # OSError, ValueError, KeyError… depending on what is missing
        raise InputError(f"no loadable tokenizer in this folder ({_first_line(exc)})",
                         file=str(path)) from None
    return lambda text: len(tok.encode(text, add_special_tokens=False))
