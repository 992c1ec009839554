"""JSONL/JSON reading and atomic writing, with schema validation and error locations."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from bias_judge.core.errors import InputError
from bias_judge.core.schema import validator_for, first_error


def iter_jsonl(path: str | os.PathLike, schema: str | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (line_number, object) for each non-blank line; any defect is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    validator = validator_for(schema) if schema else None
    with path.open(encoding="utf-8") as fh:
        for lineno, obj in parse_lines(fh, str(path)):
            if validator is not None:
                err = first_error(validator, obj)
                if err is not None:
                    field, msg = err
                    raise InputError(msg, file=str(path), line=lineno, field=field)
            yield lineno, obj


def parse_lines(lines: Iterable[str], file: str) -> Iterator[tuple[int, dict]]:
    """(line_number, object) for each non-blank line of JSONL text; a line that is not a JSON
    object is an InputError naming it."""
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", file=file, line=lineno) from None
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", file=file, line=lineno)
        yield lineno, obj


def unique_rows(rows: Iterable[tuple[int, dict]], key: str, file: str) -> Iterator[tuple[int, dict]]:
    """Pass (line, row) through; a repeated `row[key]` is an InputError naming both lines."""
    seen: dict = {}
    for line, row in rows:
        value = row[key]
        if value in seen:
            raise InputError(f"duplicate {key} {value} (first on line {seen[value]})",
                             file=file, line=line, field=key)
        seen[value] = line
        yield line, row


def read_jsonl(path: str | os.PathLike, schema: str | None = None) -> list[dict]:
    return [obj for _, obj in iter_jsonl(path, schema)]


def read_json(path: str | os.PathLike, schema: str | None = None) -> Any:
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", file=str(path), line=exc.lineno) from None
    if schema:
        err = first_error(validator_for(schema), obj)
        if err is not None:
            raise InputError(err[1], file=str(path), field=err[0])
    return obj


def dumps_line(obj: Any) -> str:
    # Sorted keys, compact, UTF-8: the same data always gives the same bytes (and the same
    # bytes as json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)).
    # orjson because it is ~7x faster on the large enriched/candidate files.
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode("utf-8")


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w"):
    """Write to a temporary file beside `path`, rename over it only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp creates 0600; give the final file the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict], schema: str | None = None) -> int:
    """Validate every row, then write them atomically. Returns the row count."""
    validator = validator_for(schema) if schema else None
    n = 0
    with atomic_open(path) as fh:
        for i, row in enumerate(rows, start=1):
            if validator is not None:
                err = first_error(validator, row)
                if err is not None:
                    raise InputError(f"output row fails schema '{schema}': {err[1]}",
                                     file=str(path), line=i, field=err[0])
            fh.write(dumps_line(row))
            fh.write("\n")
            n += 1
    return n


def write_json(path: str | os.PathLike, obj: Any, schema: str | None = None) -> None:
    if schema:
        err = first_error(validator_for(schema), obj)
        if err is not None:
            raise InputError(f"output fails schema '{schema}': {err[1]}", file=str(path), field=err[0])
    with atomic_open(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False)
        fh.write("\n")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(path: str | os.PathLike) -> str:
    """Checksum of a file, or of a directory's files (names and contents, sorted)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()
