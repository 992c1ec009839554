"""Checks on a command's outputs made before it does any work (docs/outputs.md): no output
may be one of its inputs, and every output location must be writable. A judge run or an
evaluation takes minutes to hours; finding out afterwards that the result cannot be written,
or that writing it destroyed the input, wastes all of it."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import write_target


@dataclass(frozen=True)
class PathArg:
    """One path a command was given: the option that named it (`--out`), and for a folder
    output the files it writes there (None: the command owns the whole folder)."""
    option: str
    path: Path
    folder: bool = False
    writes: tuple[str, ...] | None = None


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def refuse_inputs_as_outputs(inputs: list[PathArg], outputs: list[PathArg]) -> None:
    """An InputError when writing an output would replace an input: the same file (through
    any symlink), or an input inside a folder output that the command replaces whole or
    writes that very file of."""
    for out in outputs:
        out_real = _real(out.path)
        for arg in inputs:
            in_real = _real(arg.path)
            if out.folder and out.writes is not None:
                hit = any(_real(out.path / name) == in_real for name in out.writes)
            elif out.folder:
                hit = _within(in_real, out_real)
            else:
                hit = in_real == out_real
            if hit:
                what = "folder holds" if out.folder else "is the same file as"
                raise InputError(f"{out.option} {out.path} {what} {arg.option} {arg.path}: "
                                 "refusing to write over an input", file=str(out.path))


def check_writable(out: PathArg) -> None:
    """An InputError unless `out` can be written: its nearest existing folder is a folder
    and a file can be created in it (a read-only file system, a path under a file), or it
    is a device or FIFO open for writing. Nothing is left behind."""
    path = out.path
    if not out.folder:
        target, through = write_target(path)
        if through:
            if not os.access(target, os.W_OK):
                raise InputError("cannot write here: not writable", file=str(path))
            return
        path = target.parent
    existing = next((p for p in (path, *path.parents) if os.path.lexists(p)), None)
    if existing is None:  # pragma: no cover - the root always exists
        return
    if not existing.is_dir():
        raise InputError(f"cannot write here: {existing} is a file, not a folder",
                         file=str(out.path))
    try:
        fd, probe = tempfile.mkstemp(prefix=".bias-judge-probe.", dir=existing)
    except OSError as exc:
        raise InputError(f"cannot write here: {exc.strerror or type(exc).__name__}",
                         file=str(out.path)) from None
    os.close(fd)
    os.unlink(probe)


def check_outputs(inputs: list[PathArg], outputs: list[PathArg]) -> None:
    refuse_inputs_as_outputs(inputs, outputs)
    # Under accelerate only rank 0 writes a stage's outputs; the other ranks must not touch
    # the output folders at all, not even with a probe file.
    if os.environ.get("RANK", "0") != "0":
        return
    for out in outputs:
        check_writable(out)
