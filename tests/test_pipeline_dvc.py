"""`dvc repro` behaviour on the embedded default: what reruns, and byte-identical outputs.

The data chain is exercised with the template generator and the tiny model: candidates
depends on models/base (the llm generator's model), so base_model runs first, and the
default's real-model generation would take minutes per copy. `test_e2e_smoke` and the
committed default run cover the rest of the pipeline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline_copy import dvc, make_copy, ran_stages, set_param, snapshot, written_outside_outs

DATA_STAGES = ["ingest", "sample", "base_model", "candidates", "enrich", "pairs", "split", "label",
               "format"]
ARTIFACTS = ["data/bbq.jsonl", "data/sample.jsonl", "data/candidates.jsonl", "data/enriched.jsonl",
             "data/pairs.jsonl", "data/split/eval.jsonl", "data/split/train.jsonl",
             "data/labels.jsonl", "data/rows/sft.jsonl", "data/rows/dpo.jsonl",
             "data/pairs.meta.json", "metrics/gold_quality.json"]


def _digest(repo: Path) -> dict[str, str]:
    return {a: hashlib.sha256((repo / a).read_bytes()).hexdigest() for a in ARTIFACTS}


def _fast_copy(dest: Path) -> Path:
    repo = make_copy(dest)
    set_param(repo, "candidates.generator", "template")
    set_param(repo, "model.source", "tiny")
    return repo


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    repo = _fast_copy(tmp_path_factory.mktemp("repo"))
    before = snapshot(repo)
    out = dvc(repo, "repro", "format")
    return repo, out, before


def test_first_repro_runs_every_data_stage(built):
    repo, out, before = built
    assert ran_stages(out) == set(DATA_STAGES)
    for a in ARTIFACTS:
        assert (repo / a).stat().st_size > 0, a
    assert written_outside_outs(repo, before) == []


def test_noop_repro_runs_nothing(built):
    repo, _, _ = built
    assert ran_stages(dvc(repo, "repro", "format")) == set()


def test_pairs_param_reruns_pairs_and_downstream_only(built):
    repo, _, _ = built
    before = _digest(repo)
    set_param(repo, "pairs.seed", 7)
    out = dvc(repo, "repro", "format")
    assert ran_stages(out) == {"pairs", "split", "label", "format"}
    after = _digest(repo)
    assert after["data/bbq.jsonl"] == before["data/bbq.jsonl"]
    assert after["data/enriched.jsonl"] == before["data/enriched.jsonl"]
    assert after["data/pairs.jsonl"] != before["data/pairs.jsonl"]
    set_param(repo, "pairs.seed", 42)
    dvc(repo, "repro", "format")
    assert _digest(repo) == before


def test_same_params_give_byte_identical_artifacts(built, tmp_path):
    repo, _, _ = built
    other = _fast_copy(tmp_path / "second")
    dvc(other, "repro", "format")
    assert _digest(other) == _digest(repo)
