"""On-policy DPO rows (docs/training.md#on-policy-dpo): the SFT judge's own wrong replies become
rejected answers, order by order; cut replies are not used; the offline rows follow; the stage
with `pairs: 0` loads no model and passes the format stage's rows through."""

from __future__ import annotations

import json

from bias_judge.core import jsonio
from bias_judge.core.schema import first_error, validator_for
from bias_judge.data.format_rows import build_rows, target_for
from bias_judge.evaluation.inference import GenOut
from bias_judge.evaluation.judge import JudgeSettings, judge_pairs
from bias_judge.models.onpolicy import (ON_POLICY, OnPolicySettings, onpolicy_rows, pick_pairs,
                                        with_offline)
from recipes import write_params
from test_format import make_labelled
from test_probes import RuleJudge, first_slot

SETTINGS = JudgeSettings(prompt_style="compact", max_new_tokens=32, sample_temperature=0.3,
                         seed=7, swap_check=True, samples=0, guided=False, batch_size=16,
                         probabilities=False)
LABELLED = [make_labelled(i, v, 5) for i, v in enumerate(["A", "B", "TIE", "A"])]
DPO_VALID = validator_for("dpo_row")


def _rows(engine, pairs=LABELLED):
    judged = judge_pairs(engine, pairs, SETTINGS).rows
    return onpolicy_rows(pairs, judged, prompt_style="compact")


def test_a_position_biased_judge_is_corrected_in_the_order_it_gets_wrong():
    rows, counts = _rows(RuleJudge(first_slot))   # always "Response A", as seen
    # Label A: right as given, wrong swapped. Label B: wrong as given. TIE: wrong in both.
    assert [(r["pair_id"], r["order"]) for r in rows] == [
        (LABELLED[0]["pair_id"], "swapped"), (LABELLED[1]["pair_id"], "original"),
        (LABELLED[2]["pair_id"], "original"), (LABELLED[2]["pair_id"], "swapped"),
        (LABELLED[3]["pair_id"], "swapped")]
    assert counts["orders_wrong"] == 5 and counts["pairs_flipping"] == len(LABELLED)
    assert counts["pairs_right_both"] == 0
    for row in rows:
        assert first_error(DPO_VALID, row) is None
        pair = next(p for p in LABELLED if p["pair_id"] == row["pair_id"])
        assert row["rejected_kind"] == ON_POLICY
        assert row["chosen"][0]["content"] == target_for(pair, row["order"])
        assert row["rejected"][0]["content"].endswith("<verdict>A</verdict>")


def test_a_judge_that_agrees_with_every_label_gives_no_rows():
    truth = {(p["response_a"]["text"], p["response_b"]["text"]): p["verdict"] for p in LABELLED}

    def label(a, b):     # the label of whichever order the pair is seen in
        if (a, b) in truth:
            return truth[a, b]
        return {"A": "B", "B": "A", "TIE": "TIE"}[truth[b, a]]

    rows, counts = _rows(RuleJudge(label))
    assert rows == [] and counts["pairs_right_both"] == len(LABELLED)


class CutJudge(RuleJudge):
    """Position-biased, and every reply ends at the token budget."""

    def generate(self, conversations, **kwargs):
        return [[GenOut(o.text, "length", o.num_tokens) for o in outs]
                for outs in super().generate(conversations, **kwargs)]


def test_replies_cut_at_the_budget_are_counted_but_not_used():
    rows, counts = _rows(CutJudge(first_slot))
    assert rows == [] and counts["orders_wrong"] == 5 and counts["orders_cut_skipped"] == 5


def test_pick_pairs_filters_confidence_and_tie_and_is_seeded():
    labelled = [make_labelled(i, "TIE" if i % 3 == 0 else "A", 3 + i % 2 * 2) for i in range(30)]
    s = OnPolicySettings(pairs=5, min_confidence=4, include_tie=False, mirror=True, offline_rows=None, seed=1)
    picked = pick_pairs(labelled, s)
    assert len(picked) == 5 and all(p["confidence"] >= 4 and p["verdict"] != "TIE" for p in picked)
    assert picked == pick_pairs(list(reversed(labelled)), s)
    other = pick_pairs(labelled, OnPolicySettings(pairs=5, min_confidence=4, include_tie=False, mirror=True, offline_rows=None, seed=2))
    assert {p["pair_id"] for p in other} != {p["pair_id"] for p in picked}
    with_tie = pick_pairs(labelled, OnPolicySettings(pairs=30, min_confidence=4, include_tie=True, mirror=True, offline_rows=None, seed=1))
    assert any(p["verdict"] == "TIE" for p in with_tie)


def _offline():
    return build_rows(LABELLED, seed=3, sft_min_confidence=3, dpo_min_confidence=4,
                      dpo_rejected="verdict_flip", max_length_ratio=1.15,
                      prompt_style="compact").dpo


def test_offline_rows_follow_without_the_pairs_already_used():
    onpolicy, _ = _rows(RuleJudge(first_slot), LABELLED[:1])
    offline = _offline()     # pairs 0, 1 and 3 (TIE gives no offline row), both orders
    mixed = with_offline(onpolicy, offline, None, seed=5)
    assert mixed[:len(onpolicy)] == onpolicy
    assert [r["pair_id"] for r in mixed[len(onpolicy):]] == \
        [r["pair_id"] for r in offline if r["pair_id"] != LABELLED[0]["pair_id"]]
    capped = with_offline(onpolicy, offline, 2, seed=5)[len(onpolicy):]
    assert len(capped) == 2 and capped[0]["pair_id"] == capped[1]["pair_id"]


def test_the_stage_without_pairs_passes_the_offline_rows_through(cli, tmp_path):
    labels, offline = tmp_path / "labels.jsonl", tmp_path / "dpo.jsonl"
    jsonio.write_jsonl(labels, LABELLED)
    jsonio.write_jsonl(offline, _offline())
    params = write_params(tmp_path / "params.yaml", onpolicy={"pairs": 0})
    out = tmp_path / "dpo_rows"
    res = cli("onpolicy", "--model", tmp_path / "no-model-needed", "--labels", labels,
              "--offline-rows", offline, "--out-dir", out, "--params", params)
    assert res.exit_code == 0, res.output
    assert (out / "dpo.jsonl").read_bytes() == offline.read_bytes()
    meta = json.loads((out / "dpo.meta.json").read_text())
    assert meta["counts"]["onpolicy_rows"] == 0 and meta["counts"]["offline_rows"] == 6


def test_the_stage_judges_with_the_tiny_model(cli, tmp_path, tiny_model):
    labels, offline = tmp_path / "labels.jsonl", tmp_path / "dpo.jsonl"
    jsonio.write_jsonl(labels, LABELLED)
    jsonio.write_jsonl(offline, _offline())
    params = write_params(tmp_path / "params.yaml",
                          eval={"engine": "transformers", "dtype": "float32", "max_new_tokens": 8},
                          onpolicy={"pairs": 2, "offline_rows": 2})
    out = tmp_path / "dpo_rows"
    res = cli("onpolicy", "--model", tiny_model, "--labels", labels, "--offline-rows", offline,
              "--out-dir", out, "--params", params)
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "dpo.meta.json").read_text())
    counts = meta["counts"]
    assert counts["pairs"] == 2 and counts["engine"]["engine"] == "transformers"
    # A random tiny model names no verdict within 8 tokens: every order wrong, every reply cut.
    assert counts["orders_wrong"] == 4 and counts["orders_cut_skipped"] == 4
    rows = jsonio.read_jsonl(out / "dpo.jsonl", schema="dpo_row")
    assert len(rows) == counts["onpolicy_rows"] + counts["offline_rows"] and counts["offline_rows"] == 2


def test_mirroring_gives_a_one_sided_mistake_in_both_orders():
    judged = judge_pairs(RuleJudge(first_slot), LABELLED, SETTINGS).rows
    rows, counts = onpolicy_rows(LABELLED, judged, prompt_style="compact", mirror=True)
    keys = [(r["pair_id"], r["order"]) for r in rows]
    # Every pair now has both orders; the TIE pair was wrong in both and needs no mirror.
    assert keys == [(p["pair_id"], o) for p in LABELLED for o in ("original", "swapped")]
    assert counts["mirrored_rows"] == 3
    first = {r["order"]: r for r in rows if r["pair_id"] == LABELLED[0]["pair_id"]}
    # Label A: the judge said "A" as seen in the swapped order (= B); seen from the original
    # order that same mistake reads "B".
    assert first["swapped"]["rejected"][0]["content"].endswith("<verdict>A</verdict>")
    assert first["original"]["rejected"][0]["content"].endswith("<verdict>B</verdict>")
    assert first["original"]["chosen"][0]["content"] == target_for(LABELLED[0], "original")
    for row in rows:
        assert first_error(DPO_VALID, row) is None
