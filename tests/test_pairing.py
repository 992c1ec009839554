"""Pair buckets, quotas, ids and the `pairs` stage (docs/data-formats.md#pairs)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from bias_judge.core import jsonio
from bias_judge.data.classify import enrich_candidate
from bias_judge.core.errors import InputError
from bias_judge.data.generators import make_generator
from bias_judge.core.vocabulary import BUCKETS
from bias_judge.data.pairing import build_pairs, pair_id
from bias_judge.core.schema import first_error, validator_for

from test_generators import synthetic_items

BIG = {b: 10_000 for b in BUCKETS}
LEVEL_CLASS = {"biased": "biased", "neutral": "correct", "unclear": "incorrect_other", None: "parse_failed"}
CHOSEN = {"biased": "A", "neutral": "B", "unclear": "C", None: None}


def resp(qid: str, gen: str, level: str | None, *, words: int = 10, hedged: bool = False,
         confident: bool = False, uncertain: bool = False, sample_index: int = 0) -> dict:
    """An enriched candidate for a question whose answer is B, target A, other C."""
    return {
        "candidate_id": f"{qid}::{gen}::{sample_index}", "question_id": qid, "generator": gen,
        "text": " ".join(["word"] * words), "truncated": False, "style": "x",
        "sample_index": sample_index, "chosen_letter": CHOSEN[level],
        "classification": LEVEL_CLASS[level], "level": level, "hedged": hedged,
        "confident": confident, "uncertain": uncertain, "words": words, "category": "age",
        "question_text": f"Context for {qid}. Who did it?",
        "answer_choices": [{"letter": L, "text": f"option {L}"} for L in "ABC"],
        "answer_label": 1, "target_label": 0, "context_condition": "ambig",
        "stereotyped_groups": ["old"],
    }


def buckets_of(rows) -> dict[str, set[frozenset]]:
    out: dict[str, set[frozenset]] = {b: set() for b in BUCKETS}
    for r in rows:
        out[r["pair_category"]].add(frozenset((r["response_a"]["model"], r["response_b"]["model"])))
    return out


# --- pair ids -----------------------------------------------------------------------------

def test_pair_id_is_symmetric_and_sha1_of_the_sorted_keys():
    assert pair_id("age::1::2::neg", "m1", "m2") == pair_id("age::1::2::neg", "m2", "m1")
    expected = hashlib.sha1(b"age::1::2::neg::m1|age::1::2::neg::m2").hexdigest()[:16]
    assert pair_id("age::1::2::neg", "m2", "m1") == expected
    assert pair_id("age::1::2::neg", "m1", "m3") != expected


def test_pair_id_reproduces_every_published_pair_id(shared_data):
    rows = jsonio.read_jsonl(shared_data / "judge-pairs" / "pairs.jsonl")
    assert len(rows) == 2370
    mismatched = [r["pair_id"] for r in rows
                  if pair_id(r["question_id"], r["response_a"]["model"], r["response_b"]["model"])
                  != r["pair_id"]]
    assert mismatched == []


# --- bucket rules ---------------------------------------------------------------------------

def test_each_bucket_rule_on_a_crafted_pool():
    pool = [
        # adversarial by length: 20 words biased vs a 6-word clean answer
        resp("q1", "long", "biased", words=20), resp("q1", "short", "neutral", words=6),
        # adversarial by tone: confident bias vs uncertain clean (same length)
        resp("q2", "loud", "biased", confident=True), resp("q2", "careful", "neutral", uncertain=True),
        # clear: plain bias vs clean of similar length
        resp("q3", "plain", "biased", words=10), resp("q3", "clean", "neutral", words=9),
        # subtle: hedged bias vs clean
        resp("q4", "hedge", "biased", hedged=True), resp("q4", "clean", "neutral"),
        # tracked: bias vs another wrong answer
        resp("q5", "plain", "biased"), resp("q5", "other", "unclear"),
        # tie: two clean answers
        resp("q6", "c1", "neutral"), resp("q6", "c2", "neutral"),
        # nothing: two wrong-but-not-biased, or a parse failure
        resp("q7", "o1", "unclear"), resp("q7", "o2", "unclear"), resp("q7", "pf", None),
        # a long clean answer does not make a short clean one adversarial; 4-word clean too short
        resp("q8", "long", "biased", words=8), resp("q8", "tiny", "neutral", words=4),
    ]
    rows, report = build_pairs(pool, quotas=BIG, max_per_question=4, seed=1)
    by_q = {r["question_id"]: r["pair_category"] for r in rows}
    assert by_q == {"q1": "adversarial", "q2": "adversarial", "q3": "clear_bias_vs_clean",
                    "q4": "subtle_bias_vs_clean", "q5": "tracked_bias_vs_alternate",
                    "q6": "both_clean_tie", "q8": "clear_bias_vs_clean"}
    assert report.counts == {"adversarial": 2, "clear_bias_vs_clean": 2, "subtle_bias_vs_clean": 1,
                             "tracked_bias_vs_alternate": 1, "both_clean_tie": 1}


def test_a_pair_fits_for_adversarial_is_not_reused_by_clear():
    pool = [resp("q", "long", "biased", words=30), resp("q", "short", "neutral", words=6),
            resp("q", "mid", "neutral", words=20)]
    rows, _ = build_pairs(pool, quotas=BIG, max_per_question=4, seed=0)
    b = buckets_of(rows)
    assert b["adversarial"] == {frozenset({"long", "short"})}
    assert b["clear_bias_vs_clean"] == {frozenset({"long", "mid"})}
    assert b["both_clean_tie"] == {frozenset({"short", "mid"})}
    assert len({r["pair_id"] for r in rows}) == len(rows) == 3


def test_when_adversarial_is_full_its_pairs_fall_to_clear():
    pool = [resp("q", "long", "biased", words=30), resp("q", "short", "neutral", words=6)]
    rows, report = build_pairs(pool, quotas={**BIG, "adversarial": 0}, max_per_question=4, seed=0)
    assert [r["pair_category"] for r in rows] == ["clear_bias_vs_clean"]
    assert not any("adversarial" in w for w in report.warnings)  # quota 0 is not a shrink


def test_responses_of_one_generator_are_never_paired():
    pool = [resp("q", "same", "biased"), resp("q", "same", "neutral", sample_index=0)]
    pool[1]["candidate_id"] = "q::same::other"
    with pytest.raises(InputError, match="two responses from 'same'"):
        build_pairs(pool, quotas=BIG, max_per_question=4, seed=0)


def test_several_samples_of_one_model_become_separate_generators():
    pool = [resp("q", "m", "biased", sample_index=0), resp("q", "m", "neutral", sample_index=1),
            resp("q", "m", "neutral", sample_index=2), resp("r", "m", "biased", sample_index=0),
            resp("r", "n", "neutral")]
    rows, _ = build_pairs(pool, quotas=BIG, max_per_question=4, seed=0)
    models = {frozenset((r["response_a"]["model"], r["response_b"]["model"])) for r in rows}
    assert frozenset({"m#0", "m#1"}) in models and frozenset({"m#1", "m#2"}) in models
    assert frozenset({"m#0", "n"}) in models  # a generator with one sample keeps its name
    assert len({r["pair_id"] for r in rows}) == len(rows) == 4
    for r in rows:
        assert r["pair_id"] == pair_id(r["question_id"], r["response_a"]["model"], r["response_b"]["model"])


# --- quotas, caps, order, slots ----------------------------------------------------------------

def _wide_pool(questions: int = 6, biased: int = 4, clean: int = 4) -> list[dict]:
    pool = []
    for q in range(questions):
        pool += [resp(f"q{q}", f"b{i}", "biased") for i in range(biased)]
        pool += [resp(f"q{q}", f"c{i}", "neutral") for i in range(clean)]
    return pool


def test_per_question_cap_holds_in_every_bucket():
    rows, report = build_pairs(_wide_pool(), quotas=BIG, max_per_question=3, seed=5)
    per = Counter((r["question_id"], r["pair_category"]) for r in rows)
    assert max(per.values()) == 3
    assert report.counts["clear_bias_vs_clean"] == 6 * 3 and report.counts["both_clean_tie"] == 6 * 3
    assert report.available["clear_bias_vs_clean"] == 18


def test_quotas_are_met_exactly_when_the_pool_allows():
    quotas = {**BIG, "clear_bias_vs_clean": 7, "both_clean_tie": 5}
    rows, report = build_pairs(_wide_pool(), quotas=quotas, max_per_question=4, seed=5)
    assert Counter(r["pair_category"] for r in rows) == {"clear_bias_vs_clean": 7, "both_clean_tie": 5}
    assert [w for w in report.warnings if "clear" in w or "tie" in w] == []


def test_a_quota_the_pool_cannot_fill_shrinks_with_a_warning():
    quotas = {**BIG, "clear_bias_vs_clean": 100, "both_clean_tie": 2}
    rows, report = build_pairs(_wide_pool(questions=2), quotas=quotas, max_per_question=4, seed=5)
    assert report.counts["clear_bias_vs_clean"] == 8
    clear = [w for w in report.warnings if "clear_bias_vs_clean" in w]
    assert clear == ["bucket 'clear_bias_vs_clean': quota 100 shrunk to 8 (only 8 pairs available)"]
    assert not any("both_clean_tie" in w for w in report.warnings)


def test_slot_a_is_a_coin_flip_and_levels_travel_with_their_text():
    rows, _ = build_pairs(_wide_pool(questions=30), quotas=BIG, max_per_question=4, seed=9)
    clear = [r for r in rows if r["pair_category"] == "clear_bias_vs_clean"]
    a_biased = sum(r["response_a"]["suspected_bias_level"] == "biased" for r in clear)
    assert 0.25 < a_biased / len(clear) < 0.75
    for r in clear:
        side = "a" if r["response_a"]["suspected_bias_level"] == "biased" else "b"
        assert r["facts"][f"chosen_{side}"] == "A" and r["facts"]["target_letter"] == "A"
        assert r["facts"]["correct_letter"] == "B"


def test_same_seed_same_pairs_other_seed_other_selection():
    pool = _wide_pool(questions=10)
    quotas = {**BIG, "clear_bias_vs_clean": 12}
    a, _ = build_pairs(pool, quotas=quotas, max_per_question=4, seed=1)
    b, _ = build_pairs(list(reversed(pool)), quotas=quotas, max_per_question=4, seed=1)
    c, _ = build_pairs(pool, quotas=quotas, max_per_question=4, seed=2)
    assert a == b
    assert a != c
    assert [r["pair_id"] for r in a] == sorted(r["pair_id"] for r in a)


# --- the stage, end to end on template candidates ------------------------------------------

@pytest.fixture(scope="module")
def enriched_file(tmp_path_factory):
    items = synthetic_items()
    by_id = {it["question_id"]: it for it in items}
    rows = [enrich_candidate(c, by_id[c["question_id"]])
            for c in make_generator("template").generate(items, seed=42)]
    path = tmp_path_factory.mktemp("pairs") / "enriched.jsonl"
    jsonio.write_jsonl(path, rows, schema="enriched_candidate")
    return path


def _params(tmp_path, **pairs) -> str:
    from recipes import write_params
    return str(write_params(tmp_path / "params.yaml", pairs=pairs))


def test_template_candidates_fill_every_bucket(tmp_path, enriched_file, cli):
    out = tmp_path / "pairs.jsonl"
    result = cli("pairs", "--candidates", enriched_file, "--out", out)
    assert result.exit_code == 0, result.output
    rows = jsonio.read_jsonl(out, schema="pair")
    counts = Counter(r["pair_category"] for r in rows)
    assert all(counts[b] >= 40 for b in BUCKETS), counts
    assert len({r["pair_id"] for r in rows}) == len(rows)
    assert all(r["response_a"]["model"] != r["response_b"]["model"] for r in rows)
    meta = json.loads((tmp_path / "pairs.meta.json").read_text())
    assert meta["counts"]["buckets"] == {b: counts[b] for b in BUCKETS}
    # the published quotas are larger than this pool: every bucket reports its shrink
    assert len(meta["warnings"]) == 5 and "warning: pairs: bucket 'adversarial'" in result.output
    per = Counter((r["question_id"], r["pair_category"]) for r in rows)
    assert max(per.values()) <= 4


def test_pairs_stage_is_byte_identical_on_rerun(tmp_path, enriched_file, cli):
    params = _params(tmp_path, quotas={b: 30 for b in BUCKETS})
    outs = []
    for name in ("one", "two"):
        out = tmp_path / name / "pairs.jsonl"
        assert cli("pairs", "--candidates", enriched_file, "--out", out, "--params", params).exit_code == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert len(outs[0].splitlines()) == 150


def test_import_passes_published_pairs_through(tmp_path, shared_data, cli):
    source = shared_data / "judge-pairs" / "pairs.jsonl"
    params = _params(tmp_path, source="import", import_file=str(source))
    out = tmp_path / "pairs.jsonl"
    result = cli("pairs", "--candidates", tmp_path / "absent.jsonl", "--out", out, "--params", params)
    assert result.exit_code == 0, result.output
    published = jsonio.read_jsonl(source)
    assert jsonio.read_jsonl(out) == sorted(published, key=lambda r: r["pair_id"])
    validator = validator_for("pair")
    assert all(first_error(validator, r) is None for r in published)
    meta = json.loads((tmp_path / "pairs.meta.json").read_text())
    assert meta["counts"]["buckets"]["clear_bias_vs_clean"] == 800 and meta["rows"] == 2370


def test_import_rejects_a_duplicate_pair_id(tmp_path, cli):
    row = {"pair_id": "0123456789abcdef", "question_id": "age::1::2::neg", "question_text": "Q?",
           "answer_choices": [{"letter": L, "text": L} for L in "ABC"], "bias_category": "age",
           "response_a": {"model": "m1", "text": "A."}, "response_b": {"model": "m2", "text": "B."},
           "pair_category": "both_clean_tie"}
    other = dict(row, pair_id="fedcba9876543210")
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in (row, other, row)) + "\n")
    out = tmp_path / "pairs.jsonl"
    params = _params(tmp_path, source="import", import_file=str(source))
    result = cli("pairs", "--candidates", tmp_path / "x", "--out", out, "--params", params)
    assert result.exit_code == 2
    assert f"{source}:3: field 'pair_id'" in result.output and "line 1" in result.output
    assert not out.exists()
