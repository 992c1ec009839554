"""The eval split (docs/data-formats.md#split): proportional OOD targets, slices, gold verdicts, the CLI, and the
exact reproduction of the published holdout and training pool."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bias_judge.core import jsonio
from bias_judge.data.splitting import gold_verdict, proportional_targets, split_pairs
from recipes import params, write_params
from bias_judge.stages.split import command

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PAIRS_DIR = SHARED / "data" / "judge-pairs"

LEVELS = {
    "clear_bias_vs_clean": ("biased", "neutral"),
    "subtle_bias_vs_clean": ("neutral", "biased"),
    "adversarial": ("biased", "neutral"),
    "tracked_bias_vs_alternate": ("unclear", "biased"),
    "both_clean_tie": ("neutral", "neutral"),
}


def make_pair(i: int, category: str, bucket: str) -> dict:
    la, lb = LEVELS[bucket]
    return {
        "pair_id": hashlib.sha1(str(i).encode()).hexdigest()[:16],
        "question_id": f"{category}::{i}::{i}::neg",
        "question_text": f"Two people met. Who did thing {i}?",
        "answer_choices": [{"letter": "A", "text": "The first"}, {"letter": "B", "text": "Unknown"},
                           {"letter": "C", "text": "The second"}],
        "bias_category": category,
        "response_a": {"model": "m1", "text": "text a", "suspected_bias_level": la},
        "response_b": {"model": "m2", "text": "text b", "suspected_bias_level": lb},
        "pair_category": bucket,
    }


def synthetic_pool(per_bucket: int = 12) -> list[dict]:
    pairs, i = [], 0
    for category in ("age", "religion", "ses"):
        for bucket in LEVELS:
            for _ in range(per_bucket):
                pairs.append(make_pair(i, category, bucket))
                i += 1
    return pairs


# The published split (docs/data-formats.md#split) is the holdout profile's.
PUBLISHED = params("holdout")["split"]
SMALL = {"seed": 7, "ood_category": "religion", "ood_size": 6,
         "in_dist": {"clear_bias_vs_clean": 4, "subtle_bias_vs_clean": 3,
                     "tracked_bias_vs_alternate": 2, "both_clean_tie": 2, "adversarial": 1}}


def test_published_ood_targets():
    assert proportional_targets(PUBLISHED["in_dist"], 60) == {
        "clear_bias_vs_clean": 28, "subtle_bias_vs_clean": 12, "tracked_bias_vs_alternate": 9,
        "both_clean_tie": 6, "adversarial": 5}


def test_proportional_ties_prefer_larger_target_then_name():
    # equal remainders (2/4 each): the larger in-dist target gets the unit
    assert proportional_targets({"a": 1, "b": 3}, 2) == {"a": 0, "b": 2}
    # equal remainders and equal targets: alphabetical
    assert proportional_targets({"b": 2, "a": 2, "c": 1}, 2) == {"a": 1, "b": 1, "c": 0}
    assert sum(proportional_targets({"x": 7, "y": 5, "z": 3}, 11).values()) == 11
    assert proportional_targets({"x": 0, "y": 0}, 5) == {"x": 0, "y": 0}


@pytest.mark.parametrize("levels,expected", [
    (("biased", "neutral"), "A"), (("neutral", "biased"), "B"), (("unclear", "neutral"), "A"),
    (("neutral", "neutral"), "TIE"), (("biased", "biased"), "TIE"), (("biased", "unclear"), "TIE"),
])
def test_gold_verdict_rule(levels, expected):
    pair = make_pair(0, "age", "clear_bias_vs_clean")
    pair["response_a"]["suspected_bias_level"], pair["response_b"]["suspected_bias_level"] = levels
    assert gold_verdict(pair) == expected


def test_gold_verdict_biased_vs_unclear_option():
    pair = make_pair(0, "age", "tracked_bias_vs_alternate")  # unclear vs biased
    assert gold_verdict(pair, "A_or_B") == "B"


def test_split_slices_pool_and_order():
    pairs = synthetic_pool()
    result = split_pairs(list(reversed(pairs)), **SMALL)
    in_dist = [r for r in result.eval_rows if r["eval_slice"] == "in_dist"]
    ood = [r for r in result.eval_rows if r["eval_slice"] == "ood_religion"]
    assert len(in_dist) == 12 and len(ood) == 6
    assert all(r["bias_category"] != "religion" for r in in_dist)
    assert all(r["bias_category"] == "religion" for r in ood)
    for bucket, n in SMALL["in_dist"].items():
        assert sum(r["pair_category"] == bucket for r in in_dist) == n
    assert all(r["gold_source"] == "rule" for r in result.eval_rows)
    assert all(r["gold_verdict"] == gold_verdict(r) for r in result.eval_rows)
    # training pool: every non-held-out pair not in the in-dist slice, and nothing else
    eval_ids = {r["pair_id"] for r in in_dist}
    expected = sorted(p["pair_id"] for p in pairs
                      if p["bias_category"] != "religion" and p["pair_id"] not in eval_ids)
    assert [p["pair_id"] for p in result.train] == expected
    assert [r["pair_id"] for r in result.eval_rows] == sorted(r["pair_id"] for r in result.eval_rows)
    assert not result.warnings


def test_split_is_deterministic_and_seeded():
    pairs = synthetic_pool()
    a = split_pairs(pairs, **SMALL)
    b = split_pairs(list(reversed(pairs)), **SMALL)
    c = split_pairs(pairs, **{**SMALL, "seed": 8})
    ids = lambda s: [r["pair_id"] for r in s.eval_rows]
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)


def test_small_bucket_takes_all_with_warning():
    pairs = [p for p in synthetic_pool() if not (p["pair_category"] == "adversarial"
                                                 and p["bias_category"] != "religion")][:]
    pairs += [make_pair(1000, "age", "adversarial")]
    result = split_pairs(pairs, **{**SMALL, "in_dist": {**SMALL["in_dist"], "adversarial": 3}})
    assert sum(r["pair_category"] == "adversarial" and r["eval_slice"] == "in_dist"
               for r in result.eval_rows) == 1
    assert len(result.warnings) == 1
    assert "adversarial" in result.warnings[0] and "only 1" in result.warnings[0]


def _write_pairs(tmp_path: Path, pairs: list[dict]) -> Path:
    path = tmp_path / "pairs.jsonl"
    jsonio.write_jsonl(path, pairs, schema="pair")
    return path


def test_cli_with_params(tmp_path):
    pairs_path = _write_pairs(tmp_path, synthetic_pool())
    write_params(tmp_path / "params.yaml", split=SMALL)
    out = tmp_path / "split"
    res = CliRunner().invoke(command, ["--pairs", str(pairs_path), "--out", str(out),
                                       "--params", str(tmp_path / "params.yaml")])
    assert res.exit_code == 0, res.output
    eval_rows = jsonio.read_jsonl(out / "eval.jsonl", schema="eval_pair")
    train = jsonio.read_jsonl(out / "train.jsonl", schema="pair")
    assert len(eval_rows) == 18 and len(train) == 2 * 5 * 12 - 12
    meta = json.loads((out / "split.meta.json").read_text())
    assert meta["seed"] == 7 and meta["counts"]["eval"] == 18
    first = (out / "eval.jsonl").read_bytes()
    res = CliRunner().invoke(command, ["--pairs", str(pairs_path), "--out", str(out),
                                       "--params", str(tmp_path / "params.yaml")])
    assert (out / "eval.jsonl").read_bytes() == first


def test_cli_without_params_reads_the_working_folders_params_yaml(tmp_path, monkeypatch):
    pairs_path = _write_pairs(tmp_path, synthetic_pool())
    write_params(tmp_path / "params.yaml", profile="holdout")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(command, ["--pairs", str(pairs_path), "--out", "s"])
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "clear_bias_vs_clean" in res.output
    meta = json.loads((tmp_path / "s" / "split.meta.json").read_text())
    assert meta["params"] == PUBLISHED and meta["warnings"]


def test_cli_bad_input_one_line(tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"pair_id": "xyz"}\n')
    res = CliRunner().invoke(command, ["--pairs", str(bad), "--out", str(tmp_path / "s"),
                                       "--params", str(REPO / "params.yaml")])
    assert res.exit_code == 2
    assert res.output.startswith("error: ") and res.output.count("\n") == 1
    assert not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def published():
    if not (PAIRS_DIR / "pairs.jsonl").is_file():
        pytest.skip("shared published pairs not available")
    read = lambda name: [json.loads(l) for l in (PAIRS_DIR / name).read_text().splitlines() if l.strip()]
    return read("pairs.jsonl"), read("eval_holdout.jsonl"), read("pairs_to_label.jsonl")


def test_defaults_reproduce_published_holdout_and_pool(published):
    pairs, holdout, to_label = published
    result = split_pairs(pairs, **PUBLISHED)
    got = {r["pair_id"]: r["eval_slice"] for r in result.eval_rows}
    want = {r["pair_id"]: r["eval_slice"] for r in holdout}
    assert len(want) == 300
    assert got == want
    assert sum(s == "in_dist" for s in got.values()) == 240
    assert sum(s == "ood_religion" for s in got.values()) == 60
    assert [p["pair_id"] for p in result.train] == sorted(p["pair_id"] for p in to_label)
    assert len(result.train) == 1938
    assert not result.warnings
