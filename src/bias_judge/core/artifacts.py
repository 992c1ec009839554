"""What a stage's library call returns, and the one writer of its files and sidecars.

A data stage computes everything first and returns a `StageResult`: the files to write, the
sidecars that describe them, its warnings and a one-line summary. `write_result` then writes
it, each file validated against its schema and replaced atomically; the sidecar dict is
assembled here only (`Sidecar.as_dict`), so every stage records the same fields.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bias_judge.core.jsonio import (atomic_open, replaced_together, sha256_file, write_json,
                                   write_jsonl)


@dataclass
class Output:
    """One file: JSONL rows (`jsonl`), one JSON document, or text (a str: a card, a YAML
    file), each checked by its schema where it has one before anything is replaced."""
    path: Path
    content: list | dict | str
    schema: str | None
    jsonl: bool = False


@dataclass
class Folder:
    """A folder the stage built complete under a temporary name (`built`, beside `path`),
    put in place by `write_result` with the files: the old folder goes only then."""
    built: Path
    path: Path


@dataclass
class Sidecar:
    """The metadata file that describes an artifact: what it holds, from which inputs
    (path -> sha256), with which params. No timestamps: reruns stay byte-identical."""
    path: Path                   # where the sidecar goes (see `beside`)
    artifact: str                # the artifact's name, as recorded
    rows: int
    seed: int | None
    counts: dict
    inputs: dict[str, str]
    params: dict | None          # None: the stage reads no params, and the key is left out
    warnings: list[str]
    source: dict | None = None   # what the inputs are, where a stage can tell (ingest)

    def as_dict(self) -> dict:
        """The one place a sidecar's fields are assembled (schema `meta`)."""
        meta = {"artifact": self.artifact, "rows": self.rows, "seed": self.seed,
                "counts": self.counts, "inputs": self.inputs, "warnings": self.warnings}
        if self.params is not None:
            meta["params"] = self.params
        if self.source is not None:
            meta["source"] = self.source
        return meta


def beside(artifact: str | os.PathLike) -> tuple[Path, str]:
    """(sidecar path, artifact name) for an artifact file: `x.jsonl` -> `x.meta.json`. Only
    the last suffix goes, so `bbq.real.jsonl` -> `bbq.real.meta.json`: every artifact name
    has a sidecar name of its own, and no output overwrites another's sidecar."""
    p = Path(artifact)
    return p.with_name(p.stem + ".meta.json"), p.name


@dataclass
class StageResult:
    outputs: list[Output]
    sidecars: list[Sidecar] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: str = ""
    folders: list[Folder] = field(default_factory=list)


def count_by(rows, *keys: str) -> dict:
    """Nested counts for a sidecar, e.g. count_by(rows, "generator", "style") ->
    {generator: {style: n}}; keys are strings, as JSON writes them."""
    out: dict = {}
    for row in rows:
        node = out
        for key in keys[:-1]:
            node = node.setdefault(str(row.get(key)), {})
        last = str(row.get(keys[-1]))
        node[last] = node.get(last, 0) + 1
    return out


def checksums(*paths: str | os.PathLike) -> dict[str, str]:
    """{path as given: sha256} for a sidecar's `inputs`."""
    return {str(p): sha256_file(p) for p in paths}


def write_result(result: StageResult) -> list[Path]:
    """Write every output and every sidecar to temporary files, put the stage's built folders
    in place, then rename the files into place together: an output that fails its schema
    leaves every old file and folder as it was, and no new artifact sits beside an old
    sidecar after a crash. Returns the paths written."""
    import shutil

    written = []
    try:
        with replaced_together() as group:
            for out in result.outputs:
                if isinstance(out.content, str):
                    if out.schema is not None:
                        raise ValueError(f"{out.path}: a text output has no JSON schema")
                    with atomic_open(out.path, together=group) as fh:
                        fh.write(out.content)
                elif out.jsonl:
                    write_jsonl(out.path, out.content, schema=out.schema, together=group)
                else:
                    write_json(out.path, out.content, schema=out.schema, together=group)
                written.append(Path(out.path))
            for sidecar in result.sidecars:
                write_json(sidecar.path, sidecar.as_dict(), schema="meta", together=group)
                written.append(sidecar.path)
            for folder in result.folders:
                if folder.path.exists():
                    shutil.rmtree(folder.path)
                os.replace(folder.built, folder.path)
                written.append(folder.path)
    finally:
        for folder in result.folders:
            shutil.rmtree(folder.built, ignore_errors=True)
    return written
