"""`bias-judge data fetch-bbq`: pinned URLs, verification of every file by its git blob id (and
SHA-256 where pinned). No network: urlopen is replaced by a fake that serves bytes from memory."""

from __future__ import annotations

import hashlib
import io
import subprocess
import urllib.request
from pathlib import Path

import pytest

from bias_judge.data import fetch_bbq as fb
from bias_judge.data.bbq import UPSTREAM_STEMS
from bias_judge.core.errors import InputError

NAMES = sorted(f"{s}.jsonl" for s in UPSTREAM_STEMS)
COMPLETE_IN_SHARED = {"Age.jsonl", "Disability_status.jsonl", "Nationality.jsonl",
                      "Physical_appearance.jsonl", "Religion.jsonl", "Sexual_orientation.jsonl"}


class FakeOpener:
    """Records the URLs asked for; serves `content[url]` (or a default per file name)."""

    def __init__(self, content: dict[str, bytes] | None = None):
        self.content = content or {}
        self.urls: list[str] = []

    def __call__(self, url, timeout=None):
        self.urls.append(url)
        name = url.rsplit("/", 1)[-1]
        return io.BytesIO(self.content.get(url, f'{{"file": "{name}"}}\n'.encode()))


def pins_for(d: Path, names=NAMES, with_sha256=True) -> dict[str, fb.Pin]:
    d.mkdir(parents=True, exist_ok=True)
    pins = {}
    for name in names:
        data = f"contents of {name}\n".encode()
        (d / name).write_bytes(data)
        pins[name] = fb.Pin(fb.git_blob_id(data),
                            hashlib.sha256(data).hexdigest() if with_sha256 else None)
    return pins


def test_blob_id_is_what_git_computes(tmp_path):
    data = b'{"example_id": 0}\n'
    (tmp_path / "f").write_bytes(data)
    out = subprocess.run(["git", "hash-object", str(tmp_path / "f")], capture_output=True,
                         text=True, check=True)
    assert fb.git_blob_id(data) == out.stdout.strip()


def test_every_file_has_a_blob_pin():
    assert sorted(fb.PINS) == NAMES
    for pin in fb.PINS.values():
        assert len(pin.blob) == 40 and int(pin.blob, 16) >= 0
        assert pin.sha256 is None or len(pin.sha256) == 64


def test_pins_match_the_complete_shared_files(shared_data):
    """The six complete upstream files in ../shared are exactly the pinned blobs (and their
    SHA-256); the five partial ones (a sample) are refused."""
    ok = {n for n in NAMES if fb.pin_mismatch((shared_data / "bbq" / n).read_bytes(), fb.PINS[n]) is None}
    assert ok == COMPLETE_IN_SHARED


def test_verify_dir_match_and_unpinned(tmp_path):
    pins = pins_for(tmp_path)
    pins["SES.jsonl"] = None
    status = fb.verify_dir(tmp_path, pins)
    assert status["SES.jsonl"] == fb.UNPINNED
    assert {s for n, s in status.items() if n != "SES.jsonl"} == {fb.VERIFIED}


@pytest.mark.parametrize("with_sha256", [True, False])
def test_verify_dir_refuses_a_changed_file(tmp_path, with_sha256):
    pins = pins_for(tmp_path, with_sha256=with_sha256)
    (tmp_path / "Religion.jsonl").write_bytes(b"tampered\n")
    with pytest.raises(InputError) as exc:
        fb.verify_dir(tmp_path, pins)
    assert exc.value.file.endswith("Religion.jsonl")
    assert pins["Religion.jsonl"].blob in exc.value.message and "mismatch" in exc.value.message


def test_sha256_is_checked_when_pinned(tmp_path):
    data = b"x\n"
    pin = fb.Pin(fb.git_blob_id(data), "0" * 64)
    assert "sha256 mismatch" in fb.pin_mismatch(data, pin)
    assert fb.pin_mismatch(data, fb.Pin(fb.git_blob_id(data))) is None


def test_verify_dir_missing_file(tmp_path):
    pins = pins_for(tmp_path)
    (tmp_path / "Age.jsonl").unlink()
    with pytest.raises(InputError) as exc:
        fb.verify_dir(tmp_path, pins)
    assert exc.value.file.endswith("Age.jsonl") and "missing" in exc.value.message


def test_fetch_asks_for_the_pinned_urls_and_verifies(tmp_path):
    opener = FakeOpener()
    pins = {n: fb.Pin(fb.git_blob_id(f'{{"file": "{n}"}}\n'.encode())) for n in NAMES}
    status = fb.fetch_bbq(tmp_path / "bbq", pins=pins, opener=opener)
    assert sorted(opener.urls) == sorted(
        f"https://raw.githubusercontent.com/nyu-mll/BBQ/{fb.PINNED_COMMIT}/data/{n}" for n in NAMES)
    assert set(status.values()) == {fb.VERIFIED}
    assert sorted(p.name for p in (tmp_path / "bbq").iterdir()) == NAMES


def test_download_mismatch_leaves_no_file(tmp_path):
    with pytest.raises(InputError) as exc:
        fb.download(fb.file_url("Age.jsonl"), tmp_path / "Age.jsonl", fb.PINS["Age.jsonl"],
                    opener=FakeOpener())
    assert "Age.jsonl" in exc.value.file and "mismatch" in exc.value.message
    assert list(tmp_path.iterdir()) == []


def test_other_commit_is_downloaded_unverified(tmp_path):
    opener = FakeOpener()
    status = fb.fetch_bbq(tmp_path, commit="abc123", opener=opener)
    assert set(status.values()) == {fb.UNPINNED}
    assert all("/abc123/data/" in u for u in opener.urls)


def test_cli_refuses_a_file_that_is_not_the_pinned_one(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", FakeOpener())
    out = tmp_path / "bbq"
    res = cli("data", "fetch-bbq", "--out", out)
    assert res.exit_code == 2
    assert NAMES[0] in res.stderr and "git blob id mismatch" in res.stderr
    assert not (out / NAMES[0]).exists()


def test_cli_verifies_all_eleven_upstream_files(cli, shared_data, tmp_path, monkeypatch):
    """Served the real upstream bytes for the complete files and a stand-in with the right
    blob for the partial ones, the CLI verifies all 11 and warns about none."""
    served = {fb.file_url(n): (shared_data / "bbq" / n).read_bytes() for n in COMPLETE_IN_SHARED}
    partial = sorted(set(NAMES) - COMPLETE_IN_SHARED)
    stand_ins = {n: f"stand-in {n}\n".encode() for n in partial}
    served.update({fb.file_url(n): b for n, b in stand_ins.items()})
    pins = dict(fb.PINS)
    pins.update({n: fb.Pin(fb.git_blob_id(b)) for n, b in stand_ins.items()})
    monkeypatch.setattr(fb, "PINS", pins)
    monkeypatch.setattr(urllib.request, "urlopen", FakeOpener(served))
    out = tmp_path / "bbq"
    res = cli("data", "fetch-bbq", "--out", out)
    assert res.exit_code == 0, res.output
    assert "WARNING" not in res.stderr
    assert res.stderr.count(": verified") == 11
    assert all((out / n).read_bytes() == served[fb.file_url(n)] for n in NAMES)


def test_the_readme_claims_what_fetch_bbq_checks():
    """The README said "SHA-256 verified" while 5 of the 11 files have no SHA-256 pin: what
    covers every file is the git blob id."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    said = " ".join(p for p in readme.split("\n\n") if "fetch-bbq" in p)
    with_sha256 = sum(1 for pin in fb.PINS.values() if pin.sha256)
    assert "blob id" in said and f"all {len(fb.PINS)} files verified" in said
    assert f"({with_sha256} of the {len(fb.PINS)})" in said
    if with_sha256 < len(fb.PINS):
        assert "SHA-256 verified" not in said
