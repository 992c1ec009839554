"""`bias-judge data fetch-pairs`: the published pairs and holdout from their Hub dataset,
verified against pinned SHA-256 checksums. No network: the downloader serves ../shared."""

from __future__ import annotations

import pytest

from bias_judge.data import fetch_pairs as fp
from bias_judge.core.errors import InputError

# Hub file name -> the file in ../shared/data/judge-pairs holding the same bytes
SHARED_NAME = {"pairs.jsonl": "pairs.jsonl", "pairs_to_label.jsonl": "pairs_to_label.jsonl",
               "eval_set_unlabeled.jsonl": "eval_holdout.jsonl"}


class FakeHub:
    def __init__(self, folder, override=None):
        self.folder, self.override, self.calls = folder, override or {}, []

    def __call__(self, repo_id, filename, revision):
        self.calls.append((repo_id, filename, revision))
        return self.override.get(filename) or str(self.folder / SHARED_NAME[filename])


def test_fetch_verifies_and_names_the_holdout(shared_data, tmp_path):
    hub = FakeHub(shared_data / "judge-pairs")
    verified = fp.fetch_pairs(tmp_path / "out", revision="abc", downloader=hub)
    assert sorted(verified) == ["eval_holdout.jsonl", "pairs.jsonl", "pairs_to_label.jsonl"]
    assert {c[0] for c in hub.calls} == {fp.DATASET_ID} and {c[2] for c in hub.calls} == {"abc"}
    for local in verified:
        assert (tmp_path / "out" / local).read_bytes() == (shared_data / "judge-pairs" / local).read_bytes()


def test_a_changed_file_is_refused_and_not_written(shared_data, tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_bytes((shared_data / "judge-pairs" / "pairs.jsonl").read_bytes() + b"\n")
    hub = FakeHub(shared_data / "judge-pairs", {"pairs.jsonl": str(bad)})
    with pytest.raises(InputError) as exc:
        fp.fetch_pairs(tmp_path / "out", downloader=hub)
    assert "sha256 mismatch" in exc.value.message and "pairs.jsonl" in exc.value.file
    assert not (tmp_path / "out" / "pairs.jsonl").exists()


def test_cli_fails_in_one_line_without_network(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = cli("data", "fetch-pairs", "--out", tmp_path / "out")
    assert res.exit_code == 2
    line = res.stderr.strip().splitlines()
    assert len(line) == 1 and line[0].startswith("error: hf://datasets/") and "download failed" in line[0]
