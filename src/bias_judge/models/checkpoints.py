"""Resumable training: a checkpoint folder is reused only while its fingerprint matches (the
run's settings, rows, base model and training code: see training.run_fingerprint_parts), so a
resume only ever continues the same run; and only checkpoints that finished saving count."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

FINGERPRINT = "fingerprint.json"
COMPLETE = "COMPLETE"  # written after the Trainer has saved everything of a checkpoint
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def fingerprint(**parts) -> dict:
    """Canonical record of what determines the training run, plus its digest."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return {"digest": hashlib.sha256(blob.encode()).hexdigest(), "parts": parts}


def latest_complete(ckpt_dir: Path) -> Path | None:
    found = []
    for p in ckpt_dir.iterdir() if ckpt_dir.is_dir() else []:
        m = _CKPT.match(p.name)
        if m and (p / COMPLETE).is_file() and (p / "trainer_state.json").is_file():
            found.append((int(m.group(1)), p))
    return max(found)[1] if found else None


def prepare(ckpt_dir: str | Path, fp: dict) -> Path | None:
    """The checkpoint to resume from, or None. A folder with another fingerprint belongs to a
    different run (other settings, rows, base or code): it is emptied so training starts over."""
    ckpt_dir = Path(ckpt_dir)
    fp_path = ckpt_dir / FINGERPRINT
    if fp_path.is_file():
        try:
            same = json.loads(fp_path.read_text()).get("digest") == fp["digest"]
        except (json.JSONDecodeError, AttributeError):
            same = False
        if same:
            return latest_complete(ckpt_dir)
    if ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)
    ckpt_dir.mkdir(parents=True)
    fp_path.write_text(json.dumps(fp, sort_keys=True, indent=2) + "\n")
    return None


def mark_complete(ckpt_path: Path) -> None:
    if ckpt_path.is_dir():
        (ckpt_path / COMPLETE).write_text("")
