"""Download the upstream BBQ category files (nyu-mll/BBQ, CC-BY-4.0) at a pinned commit and
check them against pinned SHA-256 checksums.

Provenance of the pins: this project is built offline, so neither could be read from
GitHub. PINNED_COMMIT is a commit of nyu-mll/BBQ seen in a public code index. The
checksums are those of copies of six complete upstream files (Age, Disability_status,
Nationality, Physical_appearance, Religion, Sexual_orientation); they were not compared
with that commit. No complete copy of the other five was at hand: they have no pin
(None), and `fetch` reports them as not verified rather than pretending otherwise.
Replace both with values read from GitHub when a machine can reach it.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bias_judge.data.bbq import UPSTREAM_STEMS
from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import atomic_open, sha256_file
from bias_judge.core.progress import bar

BBQ_REPO = "nyu-mll/BBQ"
PINNED_COMMIT = "c723ef4ff052bc2f3c19ae0dfc713a2fb846f45b"
URL_TEMPLATE = "https://raw.githubusercontent.com/{repo}/{commit}/data/{name}"

PINNED_SHA256: dict[str, str | None] = {
    "Age.jsonl": "46e805b3fc2d8cbd26eeb8e8430d98cf7b2dc9c83574ff3674e8ce4f0fca2a60",
    "Disability_status.jsonl": "375d40d9b71f056150264445ec189b13934998f3f49a1e311aa7578eb3b45e5f",
    "Gender_identity.jsonl": None,
    "Nationality.jsonl": "a583e74666aec0341ded8aa3983e7cad694eb24de72c254d28b2df3035720090",
    "Physical_appearance.jsonl": "e48d7e13508565f4801574e611043470c25c95a0a62af3699cb5ee7cb02608fb",
    "Race_ethnicity.jsonl": None,
    "Race_x_SES.jsonl": None,
    "Race_x_gender.jsonl": None,
    "Religion.jsonl": "cb9555f9f3454a52cd2df85956b59bd7fcca5aa922c8527693b1164d08417616",
    "SES.jsonl": None,
    "Sexual_orientation.jsonl": "2c71036b9e7584fe589c42aef32c1a42bc01b9a5e9b1b8704342630cdb08cefd",
}
assert sorted(PINNED_SHA256) == sorted(f"{s}.jsonl" for s in UPSTREAM_STEMS)

VERIFIED = "verified"
UNPINNED = "no pinned checksum, not verified"


def file_url(name: str, commit: str = PINNED_COMMIT, repo: str = BBQ_REPO) -> str:
    return URL_TEMPLATE.format(repo=repo, commit=commit, name=name)


def download(url: str, dest: str | os.PathLike, expected_sha256: str | None = None,
             opener: Callable | None = None, timeout: float = 60) -> str:
    """Stream `url` into `dest` atomically; -> its sha256. With `expected_sha256`, a
    mismatch raises before the file takes its name, so no unverified file is left.
    `opener` defaults to urllib.request.urlopen (looked up at call time)."""
    opener = opener or urllib.request.urlopen
    h = hashlib.sha256()
    try:
        with opener(url, timeout=timeout) as resp, atomic_open(dest, "wb") as fh:
            for chunk in iter(lambda: resp.read(1 << 16), b""):
                h.update(chunk)
                fh.write(chunk)
            if expected_sha256 is not None and h.hexdigest() != expected_sha256:
                raise InputError(f"sha256 mismatch: expected {expected_sha256}, got {h.hexdigest()}",
                                 file=url)
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"download failed ({getattr(exc, 'reason', exc)})", file=url) from None
    return h.hexdigest()


def verify_dir(bbq_dir: str | os.PathLike, checksums: dict[str, str | None]) -> dict[str, str]:
    """Check each file named in `checksums` -> {name: VERIFIED | UNPINNED}. A missing file
    or a checksum mismatch is an InputError naming the file."""
    bbq_dir = Path(bbq_dir)
    status: dict[str, str] = {}
    for name in sorted(checksums):
        path = bbq_dir / name
        if not path.is_file():
            raise InputError("missing file", file=str(path))
        expected = checksums[name]
        if expected is None:
            status[name] = UNPINNED
            continue
        actual = sha256_file(path)
        if actual != expected:
            raise InputError(f"sha256 mismatch: expected {expected}, got {actual}", file=str(path))
        status[name] = VERIFIED
    return status


def fetch_bbq(out_dir: str | os.PathLike, commit: str = PINNED_COMMIT,
              checksums: dict[str, str | None] | None = None,
              opener: Callable | None = None) -> dict[str, str]:
    """Download the 11 category files into `out_dir` and verify them -> {name: status}.
    The pinned checksums apply only to PINNED_COMMIT; another commit is not verified."""
    if checksums is None:
        checksums = PINNED_SHA256 if commit == PINNED_COMMIT else dict.fromkeys(PINNED_SHA256)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in bar(sorted(checksums), desc="fetch BBQ", unit="file"):
        download(file_url(name, commit), out_dir / name, checksums[name], opener=opener)
    return verify_dir(out_dir, checksums)
