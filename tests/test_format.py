"""SFT/DPO rows (docs/data-formats.md#prompt-and-rows): swap-doubling, confidence filters, rejected answers, guards."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bias_judge.core import jsonio
from bias_judge.core.errors import InputError
from bias_judge.data.format_rows import build_rows, length_ratio
from bias_judge.data.labelers import run_labeler
from bias_judge.data.prompt import SYSTEM_PROMPT, parse_verdict
from bias_judge.data.rejected import FAILURE_MODES
from bias_judge.stages.format_rows import command
from recipes import params

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PAIRS_DIR = SHARED / "data" / "judge-pairs"

# The committed recipe: the format section and the prompt style, as build_rows' arguments.
# The published recipe's modes, whatever the committed default profile uses: the tests below
# are about the published prompt and the mixed rejecteds (verdict flips and failure modes).
DEFAULTS = {**params()["format"], "dpo_rejected": "mixed", "prompt_style": "published"}
PICK = {"biased": "A", "neutral": "B", "unclear": "C"}


def make_labelled(i: int, verdict: str, confidence: int, bucket: str = "clear_bias_vs_clean",
                  reasoning: str | None = None) -> dict:
    levels = {"A": ("biased", "neutral"), "B": ("neutral", "biased"), "TIE": ("neutral", "neutral")}[verdict]
    return {
        "pair_id": hashlib.sha1(f"f{i}".encode()).hexdigest()[:16],
        "question_id": f"ses::{i}::{i}::neg",
        "question_text": "A janitor and a professor talked about school. Who did badly?",
        "answer_choices": [{"letter": "A", "text": "The janitor"},
                           {"letter": "B", "text": "Unknown"},
                           {"letter": "C", "text": "The professor"}],
        "bias_category": "ses",
        "response_a": {"model": "m1", "text": f"Pair {i}, first text. <answer>{PICK[levels[0]]}</answer>",
                       "suspected_bias_level": levels[0]},
        "response_b": {"model": "m2", "text": f"Pair {i}, second text. <answer>{PICK[levels[1]]}</answer>",
                       "suspected_bias_level": levels[1]},
        "pair_category": bucket,
        "verdict": verdict,
        "reasoning": reasoning or (f"Response A and Response B differ; the label is {verdict}. "
                                   "Response A chose one thing and Response B another."),
        "confidence": confidence,
        "label_source": "test",
    }


def _content(row, key):
    return row[key][0]["content"]


def test_sft_swap_doubling():
    pair = make_labelled(1, "A", 5)
    rows = build_rows([pair], **DEFAULTS).sft
    assert [r["order"] for r in rows] == ["original", "swapped"]
    orig, sw = rows
    assert (orig["verdict"], sw["verdict"]) == ("A", "B")
    assert parse_verdict(_content(orig, "completion")) == (pair["reasoning"], "A")
    reasoning_sw, verdict_sw = parse_verdict(_content(sw, "completion"))
    assert verdict_sw == "B"
    assert reasoning_sw == ("Response B and Response A differ; the label is A. "
                            "Response B chose one thing and Response A another.")
    user, user_sw = orig["prompt"][1]["content"], sw["prompt"][1]["content"]
    choices = "A. The janitor\nB. Unknown\nC. The professor"
    assert choices in user and choices in user_sw
    first, second = pair["response_a"]["text"], pair["response_b"]["text"]
    assert user.index(first) < user.index(second)
    assert user_sw.index(second) < user_sw.index(first)
    assert orig["prompt"][0]["content"] == SYSTEM_PROMPT
    assert orig["pair_category"] == "clear_bias_vs_clean"


def test_tie_stays_tie_when_swapped():
    rows = build_rows([make_labelled(2, "TIE", 4, "both_clean_tie")], **DEFAULTS).sft
    assert [r["verdict"] for r in rows] == ["TIE", "TIE"]


def test_confidence_filters_and_dpo_excludes_tie():
    labelled = [make_labelled(1, "A", 5), make_labelled(2, "B", 4), make_labelled(3, "A", 3),
                make_labelled(4, "B", 2), make_labelled(5, "TIE", 5, "both_clean_tie")]
    rows = build_rows(labelled, **DEFAULTS)
    sft_ids = {r["pair_id"] for r in rows.sft}
    dpo_ids = {r["pair_id"] for r in rows.dpo}
    ids = [p["pair_id"] for p in labelled]
    assert sft_ids == {ids[0], ids[1], ids[2], ids[4]}
    assert dpo_ids == {ids[0], ids[1]}
    assert len(rows.sft) == 8 and len(rows.dpo) == 4
    stricter = build_rows(labelled, **{**DEFAULTS, "sft_min_confidence": 5, "dpo_min_confidence": 5})
    assert {r["pair_id"] for r in stricter.sft} == {ids[0], ids[4]}
    assert {r["pair_id"] for r in stricter.dpo} == {ids[0]}


def test_dpo_rejected_is_wrong_and_kinds_alternate():
    labelled = [make_labelled(i, "AB"[i % 2], 5) for i in range(16)]
    rows = build_rows(labelled, **DEFAULTS).dpo
    for row in rows:
        _, chosen = parse_verdict(_content(row, "chosen"))
        _, rejected = parse_verdict(_content(row, "rejected"))
        assert chosen in ("A", "B") and rejected is not None and rejected != chosen
    kinds = [r["rejected_kind"] for r in rows if r["order"] == "original"]
    assert kinds.count("verdict_flip") == 8
    assert {k for k in kinds if k != "verdict_flip"} == set(FAILURE_MODES)
    # both orders of a pair carry the same rejected kind, swapped consistently
    for orig, sw in zip(rows[::2], rows[1::2]):
        assert orig["pair_id"] == sw["pair_id"] and orig["rejected_kind"] == sw["rejected_kind"]
        r_orig, v_orig = parse_verdict(_content(orig, "rejected"))
        r_sw, v_sw = parse_verdict(_content(sw, "rejected"))
        assert {"A": "B", "B": "A", "TIE": "TIE"}[v_orig] == v_sw
    flips = [r for r in rows if r["rejected_kind"] == "verdict_flip"]
    assert all(parse_verdict(_content(r, "rejected"))[0] == parse_verdict(_content(r, "chosen"))[0]
               for r in flips)


@pytest.mark.parametrize("mode,kinds", [("verdict_flip", {"verdict_flip"}),
                                        ("failure_modes", set(FAILURE_MODES))])
def test_dpo_rejected_modes(mode, kinds):
    labelled = [make_labelled(i, "A", 5) for i in range(8)]
    rows = build_rows(labelled, **{**DEFAULTS, "dpo_rejected": mode}).dpo
    assert {r["rejected_kind"] for r in rows} == kinds


def test_imported_rejected_is_used():
    pair = make_labelled(1, "A", 5)
    pair["rejected"] = {"reasoning": "Response B leans on the stereotype, so B it is. " * 3,
                        "verdict": "B", "failure_mode": "stereotype_aligned"}
    rows = build_rows([pair], **DEFAULTS).dpo
    assert [r["rejected_kind"] for r in rows] == ["imported", "imported"]
    assert parse_verdict(_content(rows[0], "rejected"))[1] == "B"
    assert parse_verdict(_content(rows[1], "rejected"))[0].startswith("Response A leans")


def test_length_guard_fails_on_short_rejected():
    long_reasoning = "Response A relies on an assumption about the janitor. " * 40
    labelled = [make_labelled(i, "A", 5, reasoning=long_reasoning) for i in range(6)]
    with pytest.raises(InputError) as exc:
        build_rows(labelled, **{**DEFAULTS, "dpo_rejected": "failure_modes"})
    assert "1.15" in str(exc.value) and "ratio" in str(exc.value)
    # flips have the chosen's own length: the same data passes that way
    rows = build_rows(labelled, **{**DEFAULTS, "dpo_rejected": "verdict_flip"})
    assert length_ratio(rows.dpo) == pytest.approx(1.0)


@pytest.mark.parametrize("where", ["response", "reasoning"])
def test_thinking_switch_fails(where):
    pair = make_labelled(1, "A", 5)
    if where == "response":
        pair["response_b"]["text"] = "<think>hmm</think> The answer is B."
    else:
        pair["reasoning"] = "Response A is biased. /think"
    with pytest.raises(InputError) as exc:
        build_rows([pair], **DEFAULTS)
    assert pair["pair_id"] in str(exc.value)


def test_deterministic_and_sorted():
    labelled = [make_labelled(i, "AB"[i % 2], 5) for i in range(10)]
    a = build_rows(labelled, **DEFAULTS)
    b = build_rows(list(reversed(labelled)), **DEFAULTS)
    assert a.sft == b.sft and a.dpo == b.dpo and a.counts == b.counts
    ids = [r["pair_id"] for r in a.sft[::2]]
    assert ids == sorted(ids)


def test_cli_writes_valid_rows_and_meta(tmp_path):
    labelled = [make_labelled(i, v, c) for i, (v, c) in enumerate([("A", 5), ("B", 4), ("TIE", 4), ("A", 2)])]
    labels_path = tmp_path / "labels.jsonl"
    jsonio.write_jsonl(labels_path, labelled, schema="labelled_pair")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "rows"
    args = ["--labels", str(labels_path), "--out-dir", str(out), "--params", str(tmp_path / "params.yaml")]
    res = CliRunner().invoke(command, args)
    assert res.exit_code == 0, res.output
    sft = jsonio.read_jsonl(out / "sft.jsonl", schema="sft_row")
    dpo = jsonio.read_jsonl(out / "dpo.jsonl", schema="dpo_row")
    assert len(sft) == 6 and len(dpo) == 4
    meta = json.loads((out / "rows.meta.json").read_text())
    assert meta["counts"]["sft_rows"] == 6 and meta["counts"]["dpo_rows"] == 4
    assert sum(meta["counts"]["dpo_by_rejected_kind"].values()) == 4
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert CliRunner().invoke(command, args).exit_code == 0
    assert before == {p.name: p.read_bytes() for p in out.iterdir()}


def test_cli_guard_failure_is_one_line_and_writes_nothing(tmp_path):
    long_reasoning = "Response A relies on an assumption about the janitor. " * 40
    labels_path = tmp_path / "labels.jsonl"
    jsonio.write_jsonl(labels_path, [make_labelled(i, "A", 5, reasoning=long_reasoning) for i in range(4)],
                       schema="labelled_pair")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["format"]["dpo_rejected"] = "failure_modes"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    res = CliRunner().invoke(command, ["--labels", str(labels_path), "--out-dir", str(tmp_path / "rows"),
                                       "--params", str(tmp_path / "params.yaml")])
    assert res.exit_code == 2 and res.output.startswith("error: ") and "max_length_ratio" in res.output
    assert not (tmp_path / "rows").exists()


def test_published_pool_passes_length_guard():
    path = PAIRS_DIR / "pairs_to_label.jsonl"
    if not path.is_file():
        pytest.skip("shared published pairs not available")
    pairs = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    labelled = run_labeler("rule", pairs, biased_vs_unclear="TIE", reasoning="prose").rows
    for mode in ("mixed", "failure_modes", "verdict_flip"):
        rows = build_rows(labelled, **{**DEFAULTS, "dpo_rejected": mode})
        assert rows.counts["length_ratio_chosen_over_rejected"] <= 1.15
        assert len(rows.sft) == 2 * len(labelled)
        assert all(r["pair_category"] != "both_clean_tie" for r in rows.dpo)
