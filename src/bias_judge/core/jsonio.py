"""JSONL/JSON reading and atomic writing, with schema validation and error locations."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from bias_judge.core.errors import InputError
from bias_judge.core.schema import first_error, load_schema, validator_for


def require_file(path: str | os.PathLike) -> Path:
    """`path` when it is a readable file; otherwise an InputError saying what it is instead."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder, not a file", file=str(path))
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    return path


def decode(data: bytes, file: str, line_offset: int = 0) -> str:
    """UTF-8 text; bytes that are not UTF-8 are an InputError naming their line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1 + line_offset
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column})",
                         file=file, line=line) from None


def read_bytes(path: str | os.PathLike) -> bytes:
    return require_file(path).read_bytes()


def read_text(path: str | os.PathLike) -> str:
    """A text file's content, line endings as they are; not UTF-8 is an InputError."""
    return decode(read_bytes(path), str(path))


def iter_jsonl(path: str | os.PathLike, schema: str | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (line_number, object) for each non-blank line; any defect is an InputError.

    With a schema, every row is validated, and rows whose schema names a key (`x-key`, the
    fields that identify a row) must be unique by it. A file without rows is an error: no
    stage makes anything useful of nothing."""
    path = require_file(path)
    validator = validator_for(schema) if schema else None
    key = row_key(schema) if schema else None
    seen: dict = {}
    rows = 0
    with path.open("rb") as fh:
        lines = (decode(raw, str(path), lineno - 1) for lineno, raw in enumerate(fh, start=1))
        for lineno, obj in parse_lines(lines, str(path)):
            if validator is not None:
                err = first_error(validator, obj)
                if err is not None:
                    field, msg = err
                    raise InputError(msg, file=str(path), line=lineno, field=field)
            if key:
                _check_unique(obj, key, seen, str(path), lineno)
            rows += 1
            yield lineno, obj
    if not rows:
        raise InputError("no rows: the file is empty", file=str(path))


def row_key(schema: str) -> tuple[str, ...] | None:
    """The fields that identify a row of `schema` (its `x-key`), or None."""
    key = load_schema(schema).get("x-key")
    return tuple(key) if key else None


def _check_unique(row: dict, key: tuple[str, ...], seen: dict, file: str, line: int) -> None:
    value = tuple(row[k] for k in key)
    first = seen.setdefault(value, line)
    if first != line:
        shown = ", ".join(f"{k} {v}" for k, v in zip(key, value))
        raise InputError(f"duplicate {shown} (first on line {first})", file=file, line=line,
                         field=key[-1])


# orjson reads an integer beyond 64 bits as a float, silently changing an id; a run of 19
# digits is where that can start, so only lines holding one are read again exactly.
_LONG_DIGITS = re.compile(r"\d{19}")
INT_RANGE = (-(2 ** 63), 2 ** 64 - 1)


def _check_integers(line: str, file: str, lineno: int) -> None:
    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{where}.{k}" if where else k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}.{i}" if where else str(i))
        elif isinstance(node, int) and not INT_RANGE[0] <= node <= INT_RANGE[1]:
            raise InputError(f"integer {str(node)[:24]}... is outside the 64-bit range",
                             file=file, line=lineno, field=where or None)

    walk(json.loads(line), "")


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
        if _LONG_DIGITS.search(line):
            _check_integers(line, file, lineno)
        yield lineno, obj


def unique_rows(rows: Iterable[tuple[int, dict]], key: str, file: str) -> Iterator[tuple[int, dict]]:
    """Pass (line, row) through; a repeated `row[key]` is an InputError naming both lines
    (for files read without a schema; a schema's `x-key` does this in iter_jsonl)."""
    seen: dict = {}
    for line, row in rows:
        _check_unique(row, (key,), seen, file, line)
        yield line, row


def read_jsonl(path: str | os.PathLike, schema: str | None = None) -> list[dict]:
    return [obj for _, obj in iter_jsonl(path, schema)]


class _NonFinite(ValueError):
    pass


def _refuse_constant(token: str):
    raise _NonFinite(token)


# Python's json reads NaN and Infinity, which JSON does not have; a metric read that way is
# rendered as "—" and compared as nothing. Only used to point at the line once one was seen.
_CONSTANT = re.compile(r'(?<![\w".])(-?Infinity|NaN)(?![\w"])')


def read_json(path: str | os.PathLike, schema: str | None = None) -> Any:
    text = read_text(path)
    try:
        obj = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", file=str(path), line=exc.lineno) from None
    except _NonFinite as exc:
        match = _CONSTANT.search(text)
        line = text.count("\n", 0, match.start()) + 1 if match else None
        raise InputError(f"{exc} is not a JSON number (only finite numbers are)", file=str(path),
                         line=line) from None
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


# A temporary file is .NAME.PID.RANDOM.tmp beside NAME: the writer's pid tells a live
# write from the leftover of a killed one (older temporary files have no pid).
_TEMP_REST = re.compile(r"^(?:(\d+)\.)?[a-z0-9_]+$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed writers left beside `path`; a live writer's
    (another run of the same stage, say) is kept. Returns what was removed."""
    path = Path(path)
    prefix = f".{path.name}."
    removed = []
    if not path.parent.is_dir():
        return removed
    for entry in path.parent.iterdir():
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        match = _TEMP_REST.match(name[len(prefix):-len(".tmp")])
        if match is None or (match.group(1) and _alive(int(match.group(1)))):
            continue
        if entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def cannot_write(path: Path, exc: OSError, what: str = "") -> InputError:
    """The one-line error for a write that failed: the file in the way of a folder, or the
    system's reason (a read-only file system)."""
    blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
    why = f"{blocker} is a file, not a folder" if blocker else exc.strerror or type(exc).__name__
    return InputError(f"cannot write {what}here: {why}", file=str(path))


def _in_dvc_cache(path: Path) -> bool:
    """Whether `path` is a file of a DVC cache: under `.dvc/cache`, or laid out as one
    (`files/md5/ab/cdef...`, for a cache configured elsewhere)."""
    parts = path.parts
    if any(a == ".dvc" and b == "cache" for a, b in zip(parts, parts[1:])):
        return True
    return len(parts) >= 4 and parts[-4:-2] == ("files", "md5") and len(parts[-2]) == 2


def write_target(path: str | os.PathLike) -> tuple[Path, bool]:
    """Where a write to `path` lands, and whether it is written through (True) rather than
    to a temporary file renamed over it (docs/outputs.md):

    - absent, or a regular file: replaced atomically;
    - a symlink: followed, and its target replaced, so a symlinked params.yaml stays a link
      and its target gets the change; a link into a DVC cache is the checkout's view of a
      cached file, so the link itself is replaced (as `dvc checkout` would) and the cache
      never written;
    - a character device or a FIFO (`--out /dev/null`, a pipe to a reader): written through,
      as a shell redirect would; renaming a file over it would put a regular file in the
      place of the device, for every user of the machine;
    - a folder, a block device, a socket: refused."""
    path = Path(path)
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if _in_dvc_cache(target):
            return path, False
        path = target
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path, False
    except OSError as exc:
        raise cannot_write(path, exc) from None
    if stat.S_ISREG(mode):
        return path, False
    if stat.S_ISDIR(mode):
        raise InputError("is a folder; cannot write a file in its place", file=str(path))
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return path, True
    kind = "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) \
        else "a special file"
    raise InputError(f"is {kind}, not a regular file; refusing to replace it", file=str(path))


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, together: list | None = None):
    """Write to a temporary file beside `path`, rename over it only if the block succeeds.

    With `together` (from `replaced_together`) the rename waits until every file of the
    group is written. Stale temporary files of `path` from killed writers are swept first.
    What `path` already is decides where the bytes go (`write_target`)."""
    path, through = write_target(path)
    text_args = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
    if through:
        try:
            fh = open(path, mode, **text_args)
        except OSError as exc:
            raise cannot_write(path, exc) from None
        with fh:
            yield fh
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temps(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=path.parent)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    # mkstemp creates 0600; give the final file the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        # newline="": text is written as given (a CRLF file stays CRLF).
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8",
                       newline=None if "b" in mode else "") as fh:
            yield fh
        if together is None:
            os.replace(tmp, path)
        else:
            together.append((tmp, path))
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def replaced_together():
    """A group of files replaced as one: each is written to its temporary file
    (`atomic_open(..., together=group)`), and only when all are complete are they renamed
    into place, one after the other. A failure (or kill) while writing leaves every old file
    as it was, never a new artifact beside an old sidecar."""
    group: list[tuple[str, Path]] = []
    try:
        yield group
    except BaseException:
        for tmp, _ in group:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise
    for tmp, final in group:
        os.replace(tmp, final)


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict], schema: str | None = None, *,
                together: list | None = None) -> int:
    """Validate every row, then write them atomically. Returns the row count."""
    validator = validator_for(schema) if schema else None
    n = 0
    with atomic_open(path, together=together) as fh:
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


def write_json(path: str | os.PathLike, obj: Any, schema: str | None = None, *,
               together: list | None = None) -> None:
    if schema:
        err = first_error(validator_for(schema), obj)
        if err is not None:
            raise InputError(f"output fails schema '{schema}': {err[1]}", file=str(path), field=err[0])
    with atomic_open(path, together=together) as fh:
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
