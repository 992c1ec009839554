"""What bad input and crashes found in the data stages (issue 11): duplicated rows, bytes that
are not UTF-8, empty inputs, huge values, outputs that cannot be written, and what a killed
write leaves behind. Every case is one line `error: FILE[:LINE]: ...`, exit 2, and no output
written; none of them is a special case of one stage, so each is tried on several."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bias_judge.core.artifacts import Output, Sidecar, StageResult, write_result
from bias_judge.core.errors import InputError
from bias_judge.stages.cli import main
from recipes import write_params

EMBEDDED = Path(__file__).resolve().parents[1] / "src" / "bias_judge" / "embedded" / "bbq"


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stderr


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The smoke profile's data chain, ingest to format (template candidates: seconds)."""
    d = tmp_path_factory.mktemp("data")
    params = write_params(d / "params.yaml", profile="smoke")
    for args in (["ingest", "--bbq-dir", EMBEDDED, "--out", d / "bbq.jsonl"],
                 ["sample", "--items", d / "bbq.jsonl", "--out", d / "sample.jsonl"],
                 ["candidates", "--sample", d / "sample.jsonl", "--out", d / "candidates.jsonl"],
                 ["enrich", "--candidates", d / "candidates.jsonl", "--items", d / "sample.jsonl",
                  "--out", d / "enriched.jsonl"],
                 ["pairs", "--candidates", d / "enriched.jsonl", "--out", d / "pairs.jsonl"],
                 ["split", "--pairs", d / "pairs.jsonl", "--out", d / "split"],
                 ["label", "--pairs", d / "split/train.jsonl", "--out", d / "labels.jsonl"],
                 ["format", "--labels", d / "labels.jsonl", "--out-dir", d / "rows"]):
        code, err = run(*args, *(["--params", params] if args[0] not in ("ingest", "enrich") else []))
        assert code == 0, err
    return d


def stage_args(stage: str, d: Path, bad: Path, out: Path) -> list:
    """The stage's command with `bad` in place of its main input, writing below `out`."""
    params = ["--params", d / "params.yaml"]
    return {
        "enrich": ["enrich", "--candidates", bad, "--items", d / "sample.jsonl", "--out", out / "e.jsonl"],
        "enrich-items": ["enrich", "--candidates", d / "candidates.jsonl", "--items", bad,
                         "--out", out / "e.jsonl"],
        "pairs": ["pairs", "--candidates", bad, "--out", out / "p.jsonl", *params],
        "split": ["split", "--pairs", bad, "--out", out / "split", *params],
        "label": ["label", "--pairs", bad, "--out", out / "l.jsonl", *params],
        "format": ["format", "--labels", bad, "--out-dir", out / "rows", *params],
        "sample": ["sample", "--items", bad, "--out", out / "s.jsonl", *params],
    }[stage]


INPUT_OF = {"enrich": "candidates.jsonl", "enrich-items": "sample.jsonl", "pairs": "enriched.jsonl",
            "split": "pairs.jsonl", "label": "split/train.jsonl", "format": "labels.jsonl",
            "sample": "bbq.jsonl"}


def assert_one_line_error(code: int, err: str, out: Path, *needles: str) -> str:
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*")), sorted(out.rglob("*"))
    return lines[0]


@pytest.mark.parametrize("stage", ["split", "label", "format", "enrich-items", "pairs", "sample"])
def test_a_duplicated_row_is_refused(data, tmp_path, stage):
    """A repeated line gave a doubled pair in train.jsonl and doubled SFT rows; duplicate items
    overwrote each other in enrich. The schema names each row's key (x-key); every reader
    holds rows to it."""
    lines = (data / INPUT_OF[stage]).read_text().splitlines(keepends=True)
    bad = tmp_path / "dup.jsonl"
    bad.write_text("".join(lines + [lines[0]]))
    code, err = run(*stage_args(stage, data, bad, tmp_path / "out"))
    assert_one_line_error(code, err, tmp_path / "out", f"dup.jsonl:{len(lines) + 1}:",
                          "duplicate", "(first on line 1)")


@pytest.mark.parametrize("stage", ["split", "format", "enrich"])
def test_bytes_that_are_not_utf8_name_their_line(data, tmp_path, stage):
    lines = (data / INPUT_OF[stage]).read_bytes().splitlines(keepends=True)
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b"".join(lines[:2] + [lines[2].replace(b'"', b'"\xe9', 1)] + lines[3:]))
    code, err = run(*stage_args(stage, data, bad, tmp_path / "out"))
    assert_one_line_error(code, err, tmp_path / "out", "latin1.jsonl:3:", "not valid UTF-8",
                          "0xe9")


@pytest.mark.parametrize("stage", ["enrich", "pairs", "split", "label", "format", "sample"])
def test_an_empty_input_is_an_error_naming_it(data, tmp_path, stage):
    """These stages exited 0 with empty artifacts."""
    bad = tmp_path / "empty.jsonl"
    bad.write_text("\n")
    code, err = run(*stage_args(stage, data, bad, tmp_path / "out"))
    assert_one_line_error(code, err, tmp_path / "out", "empty.jsonl:", "empty")


def test_a_huge_value_is_quoted_short(data, tmp_path):
    """A 5 MB field value gave a 5 MB error line."""
    rows = [json.loads(line) for line in (data / "pairs.jsonl").read_text().splitlines()]
    rows[3]["pair_category"] = "x" * 5_000_000
    bad = tmp_path / "huge.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, err = run(*stage_args("split", data, bad, tmp_path / "out"))
    line = assert_one_line_error(code, err, tmp_path / "out", "huge.jsonl:4:",
                                 "field 'pair_category'", "characters left out", "is not one of")
    assert len(line) < 600


def test_an_integer_beyond_64_bits_is_refused_not_rounded(data, tmp_path):
    """orjson reads 2**64 + 5 as the float 1.8446744073709552e+19: an id silently changed."""
    lines = (data / "sample.jsonl").read_text().splitlines(keepends=True)
    row = json.loads(lines[1])
    row["example_id"] = 2 ** 64 + 5
    bad = tmp_path / "big.jsonl"
    bad.write_text("".join([lines[0], json.dumps(row) + "\n", *lines[2:]]))
    code, err = run(*stage_args("enrich-items", data, bad, tmp_path / "out"))
    assert_one_line_error(code, err, tmp_path / "out", "big.jsonl:2:", "field 'example_id'",
                          "18446744073709551621", "64-bit")


@pytest.mark.parametrize("stage", ["split", "enrich"])
def test_an_output_below_a_file_is_a_one_line_error(data, tmp_path, stage):
    blocker = tmp_path / "afile"
    blocker.write_text("in the way\n")
    code, err = run(*stage_args(stage, data, data / INPUT_OF[stage], blocker / "sub"))
    assert_one_line_error(code, err, tmp_path / "nothing", "cannot write here",
                          f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "in the way\n"


def test_stale_temp_files_of_killed_writers_are_swept(data, tmp_path):
    """kill -9 during a write leaves .NAME.PID.XXXX.tmp beside the output: inside an output
    folder DVC would cache it. The next write of that output removes the leftovers of dead
    writers, and keeps a live writer's."""
    out = tmp_path / "split"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = [out / f".eval.jsonl.{dead}.k3j2h1g0.tmp", out / ".train.jsonl.a8c2k1j0.tmp",
             out / f".split.meta.json.{dead}.zz9yy8xx.tmp"]
    live = out / f".eval.jsonl.{os.getpid()}.q1w2e3r4.tmp"
    other = out / f".eval.jsonl.gz.{dead}.q1w2e3r4.tmp"  # another file's temporary
    for p in [*stale, live, other]:
        p.write_text("half written")
    code, err = run(*stage_args("split", data, data / "pairs.jsonl", tmp_path))
    assert code == 0, err
    assert not any(p.exists() for p in stale)
    assert live.exists() and other.exists()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "eval.jsonl", "split.meta.json", "train.jsonl"]


def test_an_artifact_and_its_sidecar_are_replaced_together(tmp_path):
    """Outputs were renamed into place one by one: a failure (or kill) while writing the
    sidecar left the new artifact beside the old sidecar."""
    artifact, meta = tmp_path / "x.jsonl", tmp_path / "x.meta.json"
    artifact.write_text('{"old": 1}\n')
    meta.write_text('{"artifact": "x.jsonl", "rows": 1, "inputs": {}}\n')
    broken = Sidecar(meta, "x.jsonl", rows=-1, seed=None, counts={}, inputs={}, params=None,
                     warnings=[])  # fails the meta schema while being written
    with pytest.raises(InputError):
        write_result(StageResult([Output(artifact, [{"new": 1}], None, jsonl=True)], [broken]))
    assert artifact.read_text() == '{"old": 1}\n'
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_every_row_key_names_required_fields():
    """x-key is read by iter_jsonl; a key field a row may lack would make the check crash."""
    from bias_judge.core.schema import load_schema

    names = [p.name[:-len(".schema.json")] for p in
             (Path(__file__).resolve().parents[1] / "schemas").glob("*.schema.json")]
    keyed = {n: load_schema(n)["x-key"] for n in names if "x-key" in load_schema(n)}
    assert {"pair", "eval_pair", "labelled_pair", "sft_row", "dpo_row", "bbq_item"} <= set(keyed)
    for name, key in keyed.items():
        schema = load_schema(name)
        required = set(schema.get("required", []))
        for part in schema.get("allOf", []):
            if "$ref" in part:
                required |= set(load_schema(part["$ref"][:-len(".schema.json")]).get("required", []))
        assert set(key) <= required, name


def test_a_stage_result_replaces_its_folder_and_files_together_or_not_at_all(tmp_path):
    """The one write path (core/artifacts.py): a built folder goes in place with the files,
    text outputs included; an output that fails its schema leaves the old folder and files."""
    from bias_judge.core.artifacts import Folder, Output, StageResult, write_result

    def built(name: str, text: str) -> Folder:
        tmp = tmp_path / f".{name}.tmp"
        tmp.mkdir()
        (tmp / "weights.txt").write_text(text)
        return Folder(tmp, tmp_path / name)

    card, meta = tmp_path / "card.md", tmp_path / "export.json"
    write_result(StageResult(outputs=[Output(card, "# old\n", None)], folders=[built("m", "old")]))
    assert (tmp_path / "m" / "weights.txt").read_text() == "old" and card.read_text() == "# old\n"
    bad = StageResult(outputs=[Output(card, "# new\n", None),
                               Output(meta, {"checkpoint": 3}, "gguf_export")],
                      folders=[built("m", "new")])
    with pytest.raises(InputError):
        write_result(bad)
    assert (tmp_path / "m" / "weights.txt").read_text() == "old" and card.read_text() == "# old\n"
    assert not meta.exists() and not (tmp_path / ".m.tmp").exists()
    write_result(StageResult(outputs=[Output(card, "# new\n", None)], folders=[built("m", "new")]))
    assert (tmp_path / "m" / "weights.txt").read_text() == "new" and card.read_text() == "# new\n"
