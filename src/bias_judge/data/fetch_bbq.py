"""Download the upstream BBQ category files (nyu-mll/BBQ, CC-BY-4.0) at a pinned commit and
verify every one of them exactly.

Each of the 11 files is pinned by its git blob id at PINNED_COMMIT (docs/data-formats.md#bbq-pins): a blob id is
`sha1(b"blob <size>\0" + content)`, so it checks a download byte for byte without the whole
repository. Where the complete file was at hand its SHA-256 is pinned too and checked as well.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import atomic_open
from bias_judge.core.progress import bar
from bias_judge.data.bbq import UPSTREAM_STEMS

BBQ_REPO = "nyu-mll/BBQ"
PINNED_COMMIT = "c723ef4ff052bc2f3c19ae0dfc713a2fb846f45b"
URL_TEMPLATE = "https://raw.githubusercontent.com/{repo}/{commit}/data/{name}"


@dataclass(frozen=True)
class Pin:
    blob: str                   # git blob id of the file at PINNED_COMMIT
    sha256: str | None = None   # where the complete file was at hand


PINS: dict[str, Pin] = {
    "Age.jsonl": Pin("5c5e7586163b869fe029e77e63716f2026e4ae08",
                     "46e805b3fc2d8cbd26eeb8e8430d98cf7b2dc9c83574ff3674e8ce4f0fca2a60"),
    "Disability_status.jsonl": Pin("9aedeccaf599299cdfa523531d625ae85ecb9131",
                                   "375d40d9b71f056150264445ec189b13934998f3f49a1e311aa7578eb3b45e5f"),
    "Gender_identity.jsonl": Pin("dc79ceaaa9e7126edc99a200d632899c50274b16"),
    "Nationality.jsonl": Pin("cba9b63d34536cb51a6cbae76b189df3d2a945c0",
                             "a583e74666aec0341ded8aa3983e7cad694eb24de72c254d28b2df3035720090"),
    "Physical_appearance.jsonl": Pin("8cbdf83265459083224e3a2d37809294ff12ad77",
                                     "e48d7e13508565f4801574e611043470c25c95a0a62af3699cb5ee7cb02608fb"),
    "Race_ethnicity.jsonl": Pin("68daf3d692b27a10596772b3b15742b26f0b110e"),
    "Race_x_SES.jsonl": Pin("905cd8a5b8734e2063fe524e69a38f0a71c75907"),
    "Race_x_gender.jsonl": Pin("dd09a905b284690445d36259d675243950fa0bd7"),
    "Religion.jsonl": Pin("44c1940ee22f00891ab4a5526a293691957aeacb",
                          "cb9555f9f3454a52cd2df85956b59bd7fcca5aa922c8527693b1164d08417616"),
    "SES.jsonl": Pin("78d11ffbdb70f501617345e5c697d00045d57c29"),
    "Sexual_orientation.jsonl": Pin("a06351f4dd67ba30632396eeb0c3677c67b7d387",
                                    "2c71036b9e7584fe589c42aef32c1a42bc01b9a5e9b1b8704342630cdb08cefd"),
}
assert sorted(PINS) == sorted(f"{s}.jsonl" for s in UPSTREAM_STEMS)

VERIFIED = "verified"
UNPINNED = "no pin for this commit, not verified"


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's content: sha1 over a `blob <size>` header and the bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def pin_mismatch(data: bytes, pin: Pin) -> str | None:
    """Why `data` is not the pinned file, or None when it is."""
    blob = git_blob_id(data)
    if blob != pin.blob:
        return f"git blob id mismatch: pinned {pin.blob}, got {blob}"
    if pin.sha256 is not None and hashlib.sha256(data).hexdigest() != pin.sha256:
        return f"sha256 mismatch: pinned {pin.sha256}, got {hashlib.sha256(data).hexdigest()}"
    return None


def file_url(name: str, commit: str = PINNED_COMMIT, repo: str = BBQ_REPO) -> str:
    return URL_TEMPLATE.format(repo=repo, commit=commit, name=name)


def download(url: str, dest: str | os.PathLike, pin: Pin | None = None,
             opener: Callable | None = None, timeout: float = 60) -> None:
    """Fetch `url` and write it to `dest` atomically. With `pin`, a file that is not the
    pinned one raises before it takes its name, so no unverified file is left. `opener`
    defaults to urllib.request.urlopen (looked up at call time). The files are a few MB, so
    they are held in memory: a blob id needs the size before the content."""
    opener = opener or urllib.request.urlopen
    try:
        with opener(url, timeout=timeout) as resp:
            data = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"download failed ({getattr(exc, 'reason', exc)})", file=url) from None
    problem = pin_mismatch(data, pin) if pin is not None else None
    if problem:
        raise InputError(problem, file=url)
    with atomic_open(dest, "wb") as fh:
        fh.write(data)


def verify_dir(bbq_dir: str | os.PathLike, pins: dict[str, Pin | None]) -> dict[str, str]:
    """Check each file named in `pins` -> {name: VERIFIED | UNPINNED}. A missing file or one
    that is not the pinned file is an InputError naming it."""
    bbq_dir = Path(bbq_dir)
    status: dict[str, str] = {}
    for name in sorted(pins):
        path = bbq_dir / name
        if not path.is_file():
            raise InputError("missing file", file=str(path))
        if pins[name] is None:
            status[name] = UNPINNED
            continue
        problem = pin_mismatch(path.read_bytes(), pins[name])
        if problem:
            raise InputError(problem, file=str(path))
        status[name] = VERIFIED
    return status


def fetch_bbq(out_dir: str | os.PathLike, commit: str = PINNED_COMMIT,
              pins: dict[str, Pin | None] | None = None,
              opener: Callable | None = None) -> dict[str, str]:
    """Download the 11 category files into `out_dir` and verify them -> {name: status}.
    The pins apply only to PINNED_COMMIT; another commit is downloaded unverified."""
    if pins is None:
        pins = dict(PINS) if commit == PINNED_COMMIT else dict.fromkeys(PINS)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in bar(sorted(pins), desc="fetch BBQ", unit="file"):
        download(file_url(name, commit), out_dir / name, pins[name], opener=opener)
    return verify_dir(out_dir, pins)


# What a directory of BBQ-format files is, as recorded by the ingest stage (sidecar `source`)
# and named by the model and dataset cards.
EMBEDDED = "embedded"        # the project's own items (bias_judge/embedded/bbq), not BBQ data
UPSTREAM = "bbq"             # upstream BBQ files, each equal to its pin at PINNED_COMMIT
UNVERIFIED = "unverified"    # BBQ-format files that are neither


def _embedded_checksums() -> dict[str, str]:
    from importlib import resources

    folder = resources.files("bias_judge.embedded").joinpath("bbq")
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest()
            for f in folder.iterdir() if f.name.endswith(".jsonl")}


def identify(bbq_dir: str | os.PathLike, sha256s: dict[str, str]) -> dict:
    """What the files an ingest read ({name: sha256}) are: {"kind": embedded | bbq |
    unverified, "files": n, ...}. The embedded set is recognised by its checksums; upstream
    BBQ by the git blob id of every file (a subset of the 11 files still counts). Otherwise
    `matched` says how many of the files are the pinned upstream ones."""
    if sha256s == _embedded_checksums():
        return {"kind": EMBEDDED, "files": len(sha256s)}
    folder = Path(bbq_dir)
    matched = sum(1 for name in sha256s if name in PINS
                  and pin_mismatch((folder / name).read_bytes(), PINS[name]) is None)
    pinned = {"repo": BBQ_REPO, "commit": PINNED_COMMIT, "of": len(PINS)}
    if matched == len(sha256s):
        return {"kind": UPSTREAM, "files": len(sha256s), **pinned}
    return {"kind": UNVERIFIED, "files": len(sha256s), "matched": matched, **pinned}
