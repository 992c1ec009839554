"""Download the published judge pairs and the human-labelled holdout from their Hugging Face
dataset into a local folder, and verify each file against a pinned SHA-256 checksum.

The pins are the checksums of the files as the published project shipped them (docs/data-formats.md#the-published-pairs):
this project is built offline, so the dataset's commit on the Hub could not be read, and the
content checksum is the pin. `revision` picks what to download (a branch, tag or commit); a
download whose bytes differ from the pin is refused loudly and never takes the file's name.
The Hub calls the holdout `eval_set_unlabeled.jsonl` although every row has a human verdict;
it is saved as `eval_holdout.jsonl`, the name the holdout profile reads.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import atomic_open
from bias_judge.core.progress import bar

DATASET_ID = "krishnakartik/gemma4-social-bias-judge-pairs"
DEFAULT_REVISION = "main"

# local name -> (file name on the Hub, pinned sha256)
FILES: dict[str, tuple[str, str]] = {
    "pairs.jsonl": (
        "pairs.jsonl", "1fcddb98e950cc4eb9b2944758803a4670cead68838d16e129dea1358ea6f7c4"),
    "pairs_to_label.jsonl": (
        "pairs_to_label.jsonl", "ee300f55e4589339a554e76fe21e3404801f53c7d085a1898dcc56ae72a09a63"),
    "eval_holdout.jsonl": (
        "eval_set_unlabeled.jsonl", "8b3f63bf0cdc9900cb1f8be3144d4c6bf70ec4915f0c2be54f23e2b0bf4a1629"),
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _hub_download(repo_id: str, filename: str, revision: str) -> str:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return hf_hub_download(repo_id, filename, repo_type="dataset", revision=revision)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"download failed ({first[:200]})",
                         file=f"hf://datasets/{repo_id}@{revision}/{filename}") from None


def fetch_pairs(out_dir: str | os.PathLike, revision: str = DEFAULT_REVISION,
                repo_id: str = DATASET_ID,
                downloader: Callable[[str, str, str], str] | None = None) -> dict[str, str]:
    """Download every pinned file into `out_dir` -> {local name: sha256}. Each file is copied
    from the download cache through a temporary name and renamed only once its checksum
    matches the pin; a mismatch is an InputError naming the file and both checksums.
    `downloader(repo_id, filename, revision) -> local path` defaults to the Hub."""
    downloader = downloader or _hub_download
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    verified: dict[str, str] = {}
    for local, (remote, pinned) in bar(sorted(FILES.items()), desc="fetch pairs", unit="file"):
        source = Path(downloader(repo_id, remote, revision))
        actual = _sha256(source)
        where = f"hf://datasets/{repo_id}@{revision}/{remote}"
        if actual != pinned:
            raise InputError(f"sha256 mismatch: pinned {pinned}, downloaded {actual} (the "
                             "dataset changed since the pin; pass --revision with the commit "
                             "the pin was taken from)", file=where)
        with open(source, "rb") as src, atomic_open(out / local, "wb") as dst:
            shutil.copyfileobj(src, dst)
        verified[local] = actual
    return verified
