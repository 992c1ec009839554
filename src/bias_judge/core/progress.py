"""Progress bars for long work: shown on a terminal, silent in tests and logs unless asked."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def progress_enabled() -> bool:
    flag = os.environ.get("BIAS_JUDGE_PROGRESS")
    if flag is not None:
        return flag not in ("", "0")
    return sys.stderr.isatty()


def bar(iterable=None, **kwargs):
    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)


def note(message: str) -> None:
    """One line of progress for the person running a long stage (stderr, always shown)."""
    print(message, file=sys.stderr, flush=True)
