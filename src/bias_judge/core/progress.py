"""Progress bars and notes for long work, and the engine log that keeps a terminal readable.

Inference and training engines (vLLM, transformers, torch, Triton) write start-up chatter,
warnings and deprecation notices to stdout and stderr, from Python, from C libraries and from
child processes. `engine_log(path)` sends all of it to a log file, at the file-descriptor
level, for the length of a block; the bars and notes of this package keep writing to the
terminal, so a stage shows its progress bar and its summary, and the log's path if it fails.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from tqdm.auto import tqdm

_terminal = None   # the terminal's stream while an engine log holds fds 1 and 2
_saved: tuple[int, int] | None = None   # the original fds 1 and 2, for restore_terminal


def terminal():
    """Where bars and notes go: the terminal, also while an engine log is open."""
    return _terminal if _terminal is not None else sys.stderr


def progress_enabled() -> bool:
    flag = os.environ.get("BIAS_JUDGE_PROGRESS")
    if flag is not None:
        return flag not in ("", "0")
    stream = terminal()
    return hasattr(stream, "isatty") and stream.isatty()


def bar(iterable=None, **kwargs):
    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("leave", False)
    kwargs.setdefault("file", terminal())
    return tqdm(iterable, **kwargs)


def note(message: str) -> None:
    """One line of progress for the person running a long stage (always shown)."""
    print(message, file=terminal(), flush=True)


def log_path_for(output: str | os.PathLike) -> Path:
    """The engine log beside a stage's main output: `eval/dpo` -> `eval/dpo.log`,
    `data/candidates.jsonl` -> `data/candidates.log`. Under a multi-process launch each
    process other than rank 0 writes its own `.rankN.log`."""
    p = Path(output)
    stem = p.name.split(".")[0]
    rank = os.environ.get("RANK", "0")
    return p.with_name(f"{stem}.log" if rank in ("", "0") else f"{stem}.rank{rank}.log")


def restore_terminal() -> None:
    """Give fds 1 and 2 back to the terminal now (before the process replaces itself with
    exec, which would otherwise keep writing everything into the log)."""
    if _saved is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(_saved[0], 1)
        os.dup2(_saved[1], 2)


@contextmanager
def engine_log(path: str | os.PathLike):
    """Everything written to stdout and stderr inside the block goes to `path` (replaced);
    `bar` and `note` still reach the terminal. A failure names the log: an InputError in its
    one-line message, anything else in a note on the traceback. A log nothing was written to
    is removed (with the folders made for it), so bad input stopped before any engine started
    leaves no file behind."""
    global _terminal, _saved
    if _saved is not None:  # nested: the outer log already holds the output
        yield Path(path)
        return
    path = Path(path)
    created = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as exc:
        from bias_judge.core.jsonio import cannot_write

        raise cannot_write(path, exc, "the engine log ") from None
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    term = os.fdopen(os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                     errors="replace")
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    _terminal, _saved = term, saved
    try:
        yield path
    except BaseException as exc:
        from bias_judge.core.errors import InputError

        _release(term, saved)
        if _drop_if_empty(path, created):
            raise  # bad input caught before any engine spoke: the error says it all
        if isinstance(exc, InputError):
            exc.message = f"{exc.message} (engine output: {path})"
        elif not isinstance(exc, SystemExit):
            exc.add_note(f"The engines' output is in {path}")
        raise
    else:
        _release(term, saved)
        _drop_if_empty(path, created)


def _release(term, saved: tuple[int, int]) -> None:
    global _terminal, _saved
    restore_terminal()
    os.close(saved[0])
    os.close(saved[1])
    _terminal, _saved = None, None
    term.close()


def _drop_if_empty(path: Path, created: list[Path]) -> bool:
    """Remove a log nothing was written to, and the folders made for it; True if removed."""
    if path.stat().st_size:
        return False
    path.unlink()
    for folder in created:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            break
    return True
