"""`bias-judge data fetch-bbq`: pinned URLs, checksum verification. No network: urlopen is
replaced by a fake that serves bytes from memory."""

from __future__ import annotations

import hashlib
import io
import urllib.request
from pathlib import Path

import pytest

from bias_judge.data import fetch_bbq as fb
from bias_judge.data.bbq import UPSTREAM_STEMS
from bias_judge.core.errors import InputError

NAMES = sorted(f"{s}.jsonl" for s in UPSTREAM_STEMS)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeOpener:
    """Records the URLs asked for; serves `content[url]` (or a default per file name)."""

    def __init__(self, content: dict[str, bytes] | None = None):
        self.content = content or {}
        self.urls: list[str] = []

    def __call__(self, url, timeout=None):
        self.urls.append(url)
        name = url.rsplit("/", 1)[-1]
        return io.BytesIO(self.content.get(url, f'{{"file": "{name}"}}\n'.encode()))


def write_files(d: Path, names=NAMES) -> dict[str, str]:
    d.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name in names:
        data = f"contents of {name}\n".encode()
        (d / name).write_bytes(data)
        sums[name] = sha(data)
    return sums


# --- verify_dir ---------------------------------------------------------------------------

def test_verify_dir_match_and_unpinned(tmp_path):
    sums = write_files(tmp_path)
    sums["SES.jsonl"] = None
    status = fb.verify_dir(tmp_path, sums)
    assert status["SES.jsonl"] == fb.UNPINNED
    assert {s for n, s in status.items() if n != "SES.jsonl"} == {fb.VERIFIED}
    assert sorted(status) == NAMES


def test_verify_dir_mismatch_names_the_file(tmp_path):
    sums = write_files(tmp_path)
    (tmp_path / "Religion.jsonl").write_bytes(b"tampered\n")
    with pytest.raises(InputError) as exc:
        fb.verify_dir(tmp_path, sums)
    assert exc.value.file.endswith("Religion.jsonl")
    assert sums["Religion.jsonl"] in exc.value.message and "mismatch" in exc.value.message


def test_verify_dir_missing_file(tmp_path):
    sums = write_files(tmp_path)
    (tmp_path / "Age.jsonl").unlink()
    with pytest.raises(InputError) as exc:
        fb.verify_dir(tmp_path, sums)
    assert exc.value.file.endswith("Age.jsonl") and "missing" in exc.value.message


def test_pinned_table_covers_the_eleven_files():
    assert sorted(fb.PINNED_SHA256) == NAMES
    for value in fb.PINNED_SHA256.values():
        assert value is None or (len(value) == 64 and int(value, 16) >= 0)


def test_pinned_checksums_match_the_complete_shared_files(shared_data):
    status = fb.verify_dir(shared_data / "bbq", fb.PINNED_SHA256)
    assert {n for n, s in status.items() if s == fb.VERIFIED} == {
        "Age.jsonl", "Disability_status.jsonl", "Nationality.jsonl", "Physical_appearance.jsonl",
        "Religion.jsonl", "Sexual_orientation.jsonl"}


# --- download -----------------------------------------------------------------------------

def test_fetch_asks_for_the_pinned_urls_and_verifies(tmp_path):
    opener = FakeOpener()
    sums = {n: sha(f'{{"file": "{n}"}}\n'.encode()) for n in NAMES}
    status = fb.fetch_bbq(tmp_path / "bbq", checksums=sums, opener=opener)
    assert sorted(opener.urls) == sorted(
        f"https://raw.githubusercontent.com/nyu-mll/BBQ/{fb.PINNED_COMMIT}/data/{n}" for n in NAMES)
    assert set(status.values()) == {fb.VERIFIED}
    assert sorted(p.name for p in (tmp_path / "bbq").iterdir()) == NAMES


def test_download_mismatch_leaves_no_file(tmp_path):
    opener = FakeOpener()
    with pytest.raises(InputError) as exc:
        fb.download(fb.file_url("Age.jsonl"), tmp_path / "Age.jsonl", "0" * 64, opener=opener)
    assert "Age.jsonl" in exc.value.file and "mismatch" in exc.value.message
    assert list(tmp_path.iterdir()) == []


def test_other_commit_is_downloaded_unverified(tmp_path):
    opener = FakeOpener()
    status = fb.fetch_bbq(tmp_path, commit="abc123", opener=opener)
    assert set(status.values()) == {fb.UNPINNED}
    assert all("/abc123/data/" in u for u in opener.urls)


def test_cli_uses_urlopen_with_pinned_urls(cli, tmp_path, monkeypatch):
    opener = FakeOpener()
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    out = tmp_path / "bbq"
    res = cli("data", "fetch-bbq", "--out", out)
    # The fake bytes cannot match the pinned checksums: the first pinned file fails loudly.
    assert res.exit_code == 2
    first_pinned = next(n for n in NAMES if fb.PINNED_SHA256[n])
    assert first_pinned in res.stderr and "sha256 mismatch" in res.stderr
    assert not (out / first_pinned).exists()
    assert opener.urls[0].startswith(
        f"https://raw.githubusercontent.com/nyu-mll/BBQ/{fb.PINNED_COMMIT}/data/")


def test_cli_reports_unpinned_files_loudly(cli, shared_data, tmp_path, monkeypatch):
    served = {fb.file_url(n): (shared_data / "bbq" / n).read_bytes() for n in NAMES}
    monkeypatch.setattr(urllib.request, "urlopen", FakeOpener(served))
    out = tmp_path / "bbq"
    res = cli("data", "fetch-bbq", "--out", out)
    assert res.exit_code == 0, res.output
    unpinned = [n for n in NAMES if fb.PINNED_SHA256[n] is None]
    for name in unpinned:
        assert f"WARNING: {name}: no pinned checksum, not verified" in res.stderr
    assert f"{len(unpinned)} of 11 files" in res.stderr
    assert all((out / n).read_bytes() == served[fb.file_url(n)] for n in NAMES)
