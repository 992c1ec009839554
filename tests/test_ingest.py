"""Stage `ingest`: upstream BBQ files -> normalised items, target derivation, bad input."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from bias_judge.data import bbq
from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import read_jsonl, sha256_file
from bias_judge.core.schema import validator_for


def schema_errors(rows: list[dict]) -> list[tuple[int, str]]:
    v = validator_for("bbq_item")
    return [(i, e.message) for i, r in enumerate(rows) for e in v.iter_errors(r)][:5]


# --- real BBQ (shared data) -------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_ingest(tmp_path_factory):
    from conftest import SHARED
    bbq_dir = SHARED / "data" / "bbq"
    if not bbq_dir.is_dir():
        pytest.skip("shared data not present")
    from click.testing import CliRunner
    from bias_judge.stages.cli import main
    out = tmp_path_factory.mktemp("ingest") / "bbq.jsonl"
    res = CliRunner().invoke(main, ["ingest", "--bbq-dir", str(bbq_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return bbq_dir, out


def test_target_labels_agree_with_reference(shared_ingest, shared_data):
    _, out = shared_ingest
    items = {(it["category"], it["example_id"]): it for it in read_jsonl(out)}
    ref = read_jsonl(shared_data / "bbq_target_labels.jsonl")
    assert len(ref) == 3000
    disagree = []
    for r in ref:
        it = items[(r["category"].lower(), r["example_id"])]
        assert it["question_polarity"] == r["question_polarity"]
        if it["target_label"] != r["target_label"]:
            disagree.append((it["question_id"], it["target_label"], r["target_label"]))
    assert disagree == []


def test_shared_output_conforms_to_schema_and_spec(shared_ingest):
    bbq_dir, out = shared_ingest
    rows = read_jsonl(out)
    upstream_rows = sum(1 for f in bbq_dir.glob("*.jsonl")
                        for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
    assert len(rows) == upstream_rows
    assert schema_errors(rows) == []
    assert [(r["category"], r["example_id"]) for r in rows] == sorted(
        (r["category"], r["example_id"]) for r in rows)
    for r in rows[:: 97]:
        assert r["question_id"] == (f"{r['category']}::{r['question_index']}::"
                                    f"{r['example_id']}::{r['question_polarity']}")
        assert r["answer_info"][f"ans{r['unknown_label']}"][1] == "unknown"
        assert r["target_label"] != r["unknown_label"]


def test_shared_sidecar(shared_ingest):
    bbq_dir, out = shared_ingest
    meta = json.loads(out.with_name("bbq.meta.json").read_text())
    rows = read_jsonl(out)
    assert meta["rows"] == len(rows)
    assert meta["inputs"] == {f.name: sha256_file(f) for f in bbq_dir.glob("*.jsonl")}
    assert meta["counts"]["categories"] == dict(Counter(r["category"] for r in rows))
    assert sum(meta["counts"]["cells"].values()) == len(rows)
    assert len(meta["counts"]["cells"]) == 44


# --- the embedded default ---------------------------------------------------------------

def test_embedded_set_covers_every_cell_with_targets(embedded_bbq, tmp_path, cli):
    out = tmp_path / "bbq.jsonl"
    res = cli("ingest", "--bbq-dir", embedded_bbq, "--out", out)
    assert res.exit_code == 0, res.output
    rows = read_jsonl(out)
    assert schema_errors(rows) == []
    cells = Counter(bbq.cell_of(r) for r in rows)
    assert {r["category"] for r in rows} == set(bbq.CATEGORIES)
    assert len(cells) == 44 and min(cells.values()) >= 5
    assert all(r["target_label"] is not None for r in rows)
    assert all(r["unknown_label"] is not None for r in rows)
    for r in rows:
        if r["context_condition"] == "ambig":
            assert r["answer_label"] == r["unknown_label"]
        else:
            assert r["answer_label"] != r["unknown_label"]
    # BBQ's design: in disambiguated contexts the answer to the negative question is
    # sometimes the stereotyped person and sometimes not, in every category.
    for cat in bbq.CATEGORIES:
        neg = [r for r in rows if r["category"] == cat and r["context_condition"] == "disambig"
               and r["question_polarity"] == "neg"]
        aligned = {r["answer_label"] == r["target_label"] for r in neg}
        assert aligned == {True, False}, cat


def test_embedded_files_are_named_like_upstream(embedded_bbq):
    assert sorted(p.stem for p in embedded_bbq.glob("*.jsonl")) == sorted(bbq.UPSTREAM_STEMS)


def test_rerun_is_byte_identical(embedded_bbq, tmp_path, cli):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name / "bbq.jsonl"
        assert cli("ingest", "--bbq-dir", embedded_bbq, "--out", out).exit_code == 0
        outs.append(out)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert (outs[0].with_name("bbq.meta.json").read_bytes()
            == outs[1].with_name("bbq.meta.json").read_bytes())


# --- target derivation on hand-made rows --------------------------------------------------

def item(category, groups, polarity="neg", qindex="1", question="Who?", answers=None):
    """A normalised item whose three answers carry `groups` (text = group)."""
    texts = answers or [f"The {g}" for g in groups]
    return {
        "category": category, "question_index": qindex, "question": question,
        "question_polarity": polarity, "stereotyped_groups": [],
        "answer_info": {f"ans{i}": [g, g] for i, g in enumerate(groups)},
        **{f"ans{i}": t for i, t in enumerate(texts)},
    }


@pytest.mark.parametrize("stereotyped, groups, expected", [
    (["F"], ["woman", "man", "unknown"], 0),            # F vs woman
    (["M"], ["F", "unknown", "M"], 2),
    (["low SES"], ["highSES", "lowSES", "unknown"], 1),  # "low SES" vs lowSES
    (["transgender women", "trans"], ["unknown", "nonTrans_M", "trans_F"], 2),
    (["nonOld"], ["old", "nonOld", "unknown"], 1),       # "old" is inside "nonOld": no false match
])
def test_aliases_and_polarity(stereotyped, groups, expected):
    neg = item("gender_identity", groups)
    nonneg = item("gender_identity", groups, polarity="nonneg")
    for it in (neg, nonneg):
        it["stereotyped_groups"] = stereotyped
    bbq.derive_targets([neg, nonneg])
    assert neg["target_label"] == expected
    other = ({0, 1, 2} - {expected, groups.index("unknown")}).pop()
    assert nonneg["target_label"] == other


def test_nationality_matches_on_answer_text():
    it = item("nationality", ["Europe", "AsiaPacific", "unknown"])
    it["answer_info"]["ans0"][0] = "British"
    it["answer_info"]["ans1"][0] = "Japanese"
    it["stereotyped_groups"] = ["Japanese", "Korean"]
    bbq.derive_targets([it])
    assert it["target_label"] == 1


def test_no_single_stereotyped_person_gives_null():
    it = item("religion", ["Muslim", "Catholic", "unknown"])
    it["stereotyped_groups"] = ["Muslim", "Catholic"]
    bbq.derive_targets([it])
    assert it["target_label"] is None


def test_intersectional_second_dimension_comes_from_the_template():
    # Same race, different gender: undecidable alone. A sibling item of the same template
    # (same question) contrasting race says the stereotype is about women.
    same_race = item("race_x_gender", ["M-Black", "F-Black", "unknown"], question="Who shouted?")
    race_contrast = item("race_x_gender", ["F-White", "unknown", "F-Black"], qindex="2",
                         question="Who shouted?")
    for it in (same_race, race_contrast):
        it["stereotyped_groups"] = ["Black", "African American"]
    bbq.derive_targets([same_race, race_contrast])
    assert race_contrast["target_label"] == 2
    assert same_race["target_label"] == 1
    alone = item("race_x_gender", ["M-Black", "F-Black", "unknown"], question="Who shouted?")
    alone["stereotyped_groups"] = ["Black"]
    bbq.derive_targets([alone])
    assert alone["target_label"] is None


def test_intersectional_empty_group_read_from_answer_text():
    it = item("race_x_gender", ["M-Arab", "", "unknown"],
              answers=["The Arab man", "The Latina woman", "Unknown"])
    it["stereotyped_groups"] = ["Hispanic", "Latino"]
    bbq.derive_targets([it])
    assert it["target_label"] == 1


# --- bad input: one line naming file, line and field; exit 2; no output -------------------

@pytest.fixture
def bbq_copy(embedded_bbq, tmp_path) -> Path:
    d = tmp_path / "bbq"
    shutil.copytree(embedded_bbq, d)
    return d


def edit_line(path: Path, lineno: int, fn) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[lineno - 1] = fn(lines[lineno - 1])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def edit_row(path: Path, lineno: int, fn) -> None:
    def change(line):
        row = json.loads(line)
        fn(row)
        return json.dumps(row)
    edit_line(path, lineno, change)


def assert_rejected(cli, bbq_dir, tmp_path, *expected):
    out = tmp_path / "out" / "bbq.jsonl"
    res = cli("ingest", "--bbq-dir", bbq_dir, "--out", out)
    assert res.exit_code == 2, res.output
    msg = res.stderr.strip()
    assert msg.startswith("error: ") and "\n" not in msg
    for part in expected:
        assert part in msg, (part, msg)
    assert not out.exists()
    assert not out.with_name("bbq.meta.json").exists()
    return msg


def test_not_json(cli, bbq_copy, tmp_path):
    edit_line(bbq_copy / "Religion.jsonl", 3, lambda s: s[:-5])
    assert_rejected(cli, bbq_copy, tmp_path, "Religion.jsonl:3:", "not valid JSON")


def test_missing_field(cli, bbq_copy, tmp_path):
    edit_row(bbq_copy / "Age.jsonl", 7, lambda r: r.pop("label"))
    assert_rejected(cli, bbq_copy, tmp_path, "Age.jsonl:7:", "field 'label'", "missing")


def test_missing_nested_field(cli, bbq_copy, tmp_path):
    edit_row(bbq_copy / "SES.jsonl", 2, lambda r: r["additional_metadata"].pop("stereotyped_groups"))
    assert_rejected(cli, bbq_copy, tmp_path, "SES.jsonl:2:",
                    "field 'additional_metadata.stereotyped_groups'")


def test_label_out_of_range(cli, bbq_copy, tmp_path):
    edit_row(bbq_copy / "Nationality.jsonl", 5, lambda r: r.update(label=3))
    assert_rejected(cli, bbq_copy, tmp_path, "Nationality.jsonl:5:", "field 'label'")


def test_category_not_matching_file(cli, bbq_copy, tmp_path):
    edit_row(bbq_copy / "Age.jsonl", 4, lambda r: r.update(category="Religion"))
    assert_rejected(cli, bbq_copy, tmp_path, "Age.jsonl:4:", "field 'category'", "Religion")


def test_unknown_category_file(cli, bbq_copy, tmp_path):
    shutil.copy(bbq_copy / "Age.jsonl", bbq_copy / "Ageism.jsonl")
    assert_rejected(cli, bbq_copy, tmp_path, "Ageism.jsonl", "field 'category'")


def test_duplicate_example_id(cli, bbq_copy, tmp_path):
    edit_row(bbq_copy / "Religion.jsonl", 9, lambda r: r.update(example_id=2))
    assert_rejected(cli, bbq_copy, tmp_path, "Religion.jsonl:9:", "field 'example_id'",
                    "duplicate", "line 3")


def test_empty_directory(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_rejected(cli, tmp_path / "empty", tmp_path, "empty", "no *.jsonl")


def test_directory_without_jsonl(cli, tmp_path):
    d = tmp_path / "licence_only"
    d.mkdir()
    (d / "LICENSE").write_text("CC-BY-4.0\n")
    assert_rejected(cli, d, tmp_path, "licence_only", "no *.jsonl")


def test_other_files_beside_the_jsonl_are_ignored(cli, bbq_copy, tmp_path):
    (bbq_copy / "LICENSE").write_text("CC-BY-4.0\n")
    out = tmp_path / "bbq.jsonl"
    assert cli("ingest", "--bbq-dir", bbq_copy, "--out", out).exit_code == 0
    assert "LICENSE" not in json.loads(out.with_name("bbq.meta.json").read_text())["inputs"]


def test_library_error_names_file_line_and_field(bbq_copy):
    edit_row(bbq_copy / "Age.jsonl", 2, lambda r: r.update(context_condition="vague"))
    with pytest.raises(InputError) as exc:
        bbq.read_bbq_dir(bbq_copy)
    assert exc.value.file.endswith("Age.jsonl")
    assert (exc.value.line, exc.value.field) == (2, "context_condition")


def test_each_output_has_a_sidecar_of_its_own(cli, embedded_bbq, tmp_path):
    """`--out bbq.real.jsonl` wrote bbq.meta.json, the sidecar of bbq.jsonl beside it."""
    assert cli("ingest", "--bbq-dir", embedded_bbq, "--out", tmp_path / "bbq.jsonl").exit_code == 0
    before = (tmp_path / "bbq.meta.json").read_bytes()
    assert cli("ingest", "--bbq-dir", embedded_bbq, "--out", tmp_path / "bbq.real.jsonl").exit_code == 0
    assert (tmp_path / "bbq.meta.json").read_bytes() == before
    assert json.loads((tmp_path / "bbq.real.meta.json").read_text())["artifact"] == "bbq.real.jsonl"


def test_a_folder_named_like_a_category_file(cli, bbq_copy, tmp_path):
    (bbq_copy / "Age.jsonl").unlink()
    (bbq_copy / "Age.jsonl").mkdir()
    assert_rejected(cli, bbq_copy, tmp_path, "Age.jsonl:", "is a folder, not a file")


def test_an_example_id_beyond_64_bits(cli, bbq_copy, tmp_path):
    edit_row(bbq_copy / "Age.jsonl", 2, lambda r: r.update(example_id=2 ** 64 + 5))
    assert_rejected(cli, bbq_copy, tmp_path, "Age.jsonl:2:", "field 'example_id'",
                    "18446744073709551621", "64-bit")


def test_bytes_that_are_not_utf8(cli, bbq_copy, tmp_path):
    path = bbq_copy / "SES.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:4] + [lines[4].replace(b"e", b"\xe9", 1)] + lines[5:]))
    assert_rejected(cli, bbq_copy, tmp_path, "SES.jsonl:5:", "not valid UTF-8 (byte 0xe9")


def test_an_empty_category_file_is_left_out_with_a_warning(cli, bbq_copy, tmp_path):
    """It was dropped silently: the run looked complete with ten categories."""
    (bbq_copy / "Age.jsonl").write_text("")
    out = tmp_path / "bbq.jsonl"
    res = cli("ingest", "--bbq-dir", bbq_copy, "--out", out)
    assert res.exit_code == 0, res.output
    warning = "Age.jsonl has no rows: category 'age' is left out"
    assert f"warning: ingest: {warning}" in res.stderr
    meta = json.loads(out.with_name("bbq.meta.json").read_text())
    assert meta["warnings"] == [warning] and "age" not in meta["counts"]["categories"]


def test_no_rows_in_any_file(cli, bbq_copy, tmp_path):
    for f in bbq_copy.glob("*.jsonl"):
        f.write_text("\n")
    assert_rejected(cli, bbq_copy, tmp_path, "no rows in any BBQ file")
