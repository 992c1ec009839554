"""A fresh clone, as a new user gets it: the data chain pushed to a local DVC remote, the
repository cloned, `dvc pull` brings every output back and `dvc status` is clean; without any
pull, `dvc plots show` renders the training curves and the confusion view and
`dvc metrics show` fits a terminal, from the files committed uncached."""

from __future__ import annotations

import json
import subprocess

import pytest

from pipeline_copy import dvc, dvc_env, make_copy, set_param

pytestmark = pytest.mark.e2e

TARGET = "split"   # ingest .. split: every kind of output (files, a folder, sidecars), no training


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd,
                   env=dvc_env(), check=True, capture_output=True)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    root = tmp_path_factory.mktemp("remote")
    repo = make_copy(root / "repo")
    set_param(repo, "candidates.generator", "template")
    set_param(repo, "model.source", "tiny")
    dvc(repo, "repro", TARGET)
    dvc(repo, "remote", "add", "-d", "local", str(root / "storage"))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "data chain and a local remote")
    dvc(repo, "push", "--with-deps", TARGET)
    _git(root, "clone", "-q", str(repo), str(root / "clone"))
    return root / "clone"


def test_clone_pulls_and_is_clean(clone):
    assert not (clone / "data" / "split").exists()
    dvc(clone, "pull", "--with-deps", TARGET)
    assert (clone / "data" / "split" / "eval.jsonl").stat().st_size > 0
    assert (clone / "models" / "base" / "config.json").is_file()
    status = dvc(clone, "status", "--with-deps", TARGET)
    assert "Data and pipelines are up to date" in status, status


def test_fresh_clone_shows_plots_and_metrics_without_a_pull(clone, tmp_path):
    out = tmp_path / "html"
    shown = dvc(clone, "plots", "show", "-o", str(out))
    assert "failed to load" not in shown.lower()
    html = (out / "index.html").read_text()
    assert "Confusion, base / SFT / DPO" in html and "loss" in html
    data = json.loads(_json(dvc(clone, "plots", "show", "--json")))["data"]
    confusion = data["Confusion, base / SFT / DPO (rows gold, columns verdict)"]
    assert confusion and all("errors" not in entry for entry in confusion)
    metrics = dvc(clone, "metrics", "show")
    assert max(len(line) for line in metrics.splitlines()) <= 200, metrics
    assert "metrics/summary.json" in metrics


def _json(text: str) -> str:
    return text[text.index("{"):]
