"""Outputs that never destroy: what a write does to a device node, a FIFO, a socket or a
symlink; a command whose output is one of its inputs; an output that cannot be written,
found before any work; non-finite numbers and duplicate keys in params; malformed rows."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import read_json, write_json, write_jsonl
from bias_judge.core.params import load_params, validate_params
from bias_judge.core.schema import first_error, validator_for

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "profiles"
VALID_PAIR = ('{"question_text": "q", "response_a": {"text": "a"}, '
              '"response_b": {"text": "b"}}\n')


def _char_device(tmp_path: Path) -> Path:
    """A scratch copy of /dev/null (char 1:3), made here and never in /dev."""
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    return node


# --- 1. special files and symlinks -------------------------------------------------------

def test_a_device_node_is_written_through_and_stays_a_device(tmp_path):
    node = _char_device(tmp_path)
    write_jsonl(node, [{"a": 1}])
    write_json(node, {"a": 1})
    assert stat.S_ISCHR(node.lstat().st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_fifo_is_written_through_to_its_reader(tmp_path):
    fifo = tmp_path / "verdicts"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_jsonl(fifo, [{"a": 1}, {"b": 2}])
    reader.join(timeout=10)
    assert got == ['{"a":1}\n{"b":2}\n']
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_socket_is_refused_and_left_in_place(tmp_path):
    path = tmp_path / "s.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    try:
        with pytest.raises(InputError, match="not a regular file") as err:
            write_jsonl(path, [{"a": 1}])
        assert "\n" not in str(err.value)
        assert stat.S_ISSOCK(path.lstat().st_mode)
    finally:
        sock.close()


def test_a_symlink_is_followed_and_its_target_replaced(tmp_path):
    target = tmp_path / "real" / "out.jsonl"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "out.jsonl"
    link.symlink_to(target)
    write_jsonl(link, [{"a": 1}])
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == '{"a":1}\n'


def test_a_link_into_a_dvc_cache_is_replaced_and_the_cache_is_untouched(tmp_path):
    cached = tmp_path / ".dvc" / "cache" / "files" / "md5" / "ab" / "cdef0123"
    cached.parent.mkdir(parents=True)
    cached.write_text("cached\n")
    cached.chmod(0o444)
    link = tmp_path / "out.jsonl"
    link.symlink_to(cached)
    write_jsonl(link, [{"a": 1}])
    assert not link.is_symlink() and link.read_text() == '{"a":1}\n'
    assert cached.read_text() == "cached\n"


def test_profile_use_follows_a_symlinked_params_file(tmp_path):
    from bias_judge.stages.cli import main

    real = tmp_path / "config" / "params.yaml"
    real.parent.mkdir()
    shutil.copy(REPO / "params.yaml", real)
    link = tmp_path / "params.yaml"
    link.symlink_to(real)
    res = CliRunner().invoke(main, ["profile", "use", "smoke", "--params", str(link),
                                    "--profiles-dir", str(PROFILES)])
    assert res.exit_code == 0, res.output
    assert link.is_symlink()
    assert "source: tiny" in real.read_text()


# --- 2. an output that is an input -------------------------------------------------------

def _run(*args):
    from bias_judge.stages.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_judge_refuses_to_write_its_verdicts_over_its_pairs(tmp_path):
    pairs = tmp_path / "q.jsonl"
    pairs.write_text(VALID_PAIR)
    before = pairs.read_bytes()
    res = _run("judge", "--model", tmp_path / "no-model", "--pairs", pairs, "--out", pairs,
               "--params", REPO / "params.yaml")
    assert res.exit_code == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "--out" in res.stderr and "--pairs" in res.stderr
    assert pairs.read_bytes() == before


def test_an_input_reached_through_a_symlink_is_still_an_input(tmp_path):
    pairs = tmp_path / "q.jsonl"
    pairs.write_text("{}\n")
    alias = tmp_path / "alias.jsonl"
    alias.symlink_to(pairs)
    res = _run("judge", "--model", tmp_path / "m", "--pairs", alias, "--out", pairs,
               "--params", REPO / "params.yaml")
    assert res.exit_code == 2 and "--pairs" in res.stderr


def _split_from_inside_its_output(tmp_path, name: str, text: str):
    """`split --pairs d/NAME --out d`: (the pairs file, the command's result)."""
    folder = tmp_path / "d"
    folder.mkdir()
    pairs = folder / name
    pairs.write_text(text)
    return pairs, _run("split", "--pairs", pairs, "--out", folder, "--params", REPO / "params.yaml")


def test_split_refuses_an_output_folder_that_would_replace_its_input(tmp_path):
    train, res = _split_from_inside_its_output(tmp_path, "train.jsonl", "{}\n")
    assert res.exit_code == 2, res.output
    assert "train.jsonl" in res.stderr and train.read_text() == "{}\n"


def test_an_input_beside_what_a_folder_output_writes_is_allowed(tmp_path):
    """split writes three named files: other files in its folder are not touched."""
    _, res = _split_from_inside_its_output(tmp_path, "pairs.jsonl", "not json\n")
    assert res.exit_code == 2 and "not valid JSON" in res.stderr  # got as far as reading


def test_the_params_file_is_an_input_too(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    pairs = tmp_path / "q.jsonl"
    pairs.write_text("{}\n")
    res = _run("judge", "--model", tmp_path / "m", "--pairs", pairs, "--out", params,
               "--params", params)
    assert res.exit_code == 2 and "--params" in res.stderr
    assert params.read_text() == (REPO / "params.yaml").read_text()


# --- 3. an output that cannot be written, found before any work --------------------------

def test_an_output_under_a_file_is_refused_before_the_model_is_looked_at(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    pairs = tmp_path / "q.jsonl"
    pairs.write_text(VALID_PAIR)
    res = _run("judge", "--model", tmp_path / "no-model", "--pairs", pairs,
               "--out", blocker / "v.jsonl", "--params", REPO / "params.yaml")
    assert res.exit_code == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "is a file, not a folder" in res.stderr and "no-model" not in res.stderr


def test_evaluate_with_its_folders_under_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    res = _run("evaluate", "--checkpoint", "sft", "--model", tmp_path / "m",
               "--eval-set", tmp_path / "e.jsonl", "--out-dir", blocker / "eval",
               "--metrics", tmp_path / "m.json", "--params", REPO / "params.yaml")
    assert res.exit_code == 2, res.output
    assert len(res.stderr.strip().splitlines()) == 1 and "is a file" in res.stderr


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only tmpfs mounted in the test's own folder (root only)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
                          capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {proc.stderr.decode().strip()}")
    yield ro
    subprocess.run(["umount", str(ro)], check=False)


def test_a_read_only_output_is_found_before_the_work(tmp_path, read_only_dir):
    pairs = tmp_path / "q.jsonl"
    pairs.write_text(VALID_PAIR)
    res = _run("judge", "--model", tmp_path / "no-model", "--pairs", pairs,
               "--out", read_only_dir / "v.jsonl", "--samples", "5",
               "--params", REPO / "params.yaml")
    assert res.exit_code == 2
    assert "read-only" in res.stderr.lower() and "no-model" not in res.stderr
    res = _run("evaluate", "--checkpoint", "sft", "--model", tmp_path / "no-model",
               "--eval-set", pairs, "--out-dir", tmp_path / "eval",
               "--metrics", read_only_dir / "m.json", "--params", REPO / "params.yaml")
    assert res.exit_code == 2 and "read-only" in res.stderr.lower()


def test_the_engine_log_under_a_file_is_an_input_error(tmp_path):
    from bias_judge.core.progress import engine_log

    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(InputError, match="is a file, not a folder"):
        with engine_log(blocker / "eval" / "x.log"):
            pass


# --- 5. non-finite numbers ---------------------------------------------------------------

def _params() -> dict:
    return load_params(REPO / "params.yaml")


@pytest.mark.parametrize("key, value", [("sft.learning_rate", float("nan")),
                                        ("format.max_length_ratio", float("nan")),
                                        ("dpo.beta", float("inf")),
                                        ("sft.verdict_weight", float("-inf"))])
def test_non_finite_params_are_refused_naming_the_key(key, value):
    params = _params()
    section, name = key.split(".")
    params[section][name] = value
    with pytest.raises(InputError, match="not a finite number") as err:
        validate_params(params)
    assert err.value.field == key


def test_a_nan_in_the_params_file_names_its_line(tmp_path):
    text = (REPO / "params.yaml").read_text().replace("learning_rate: 2.0e-4", "learning_rate: .nan", 1)
    assert ".nan" in text
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match="sft.learning_rate"):
        load_params(path)


def test_profile_use_refuses_a_profile_with_nan(tmp_path):
    from bias_judge.tools.profiles import apply_profile

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "bad.yaml").write_text("sft:\n  learning_rate: .nan\n")
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    before = params.read_text()
    with pytest.raises(InputError, match="finite"):
        apply_profile("bad", params, profiles)
    assert params.read_text() == before


@pytest.mark.parametrize("token", ["Infinity", "-Infinity", "NaN"])
def test_a_metrics_file_with_a_non_finite_number_is_refused(tmp_path, token):
    path = tmp_path / "eval_sft.json"
    path.write_text('{"checkpoint": "sft",\n "kappa": %s}\n' % token)
    with pytest.raises(InputError, match=token) as err:
        read_json(path)
    assert err.value.line == 2


# --- 6. rows the schemas must refuse -----------------------------------------------------

def _published_pair() -> dict:
    return {"pair_id": "0123456789abcdef", "question_id": "q1", "question_text": "Who?",
            "answer_choices": [{"letter": L, "text": t} for L, t in zip("ABC", "xyz")],
            "bias_category": "age", "pair_category": "clear_bias_vs_clean",
            "response_a": {"model": "m", "text": "The answer is A."},
            "response_b": {"model": "m", "text": "Cannot tell."}}


@pytest.mark.parametrize("schema", ["pair", "judge_input"])
@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_or_blank_response_text_is_refused(schema, text):
    pair = _published_pair()
    assert first_error(validator_for(schema), pair) is None
    pair["response_a"]["text"] = text
    field, _ = first_error(validator_for(schema), pair)
    assert field == "response_a.text"


@pytest.mark.parametrize("schema", ["pair", "judge_input"])
def test_repeated_answer_choice_letters_are_refused(schema):
    pair = _published_pair()
    pair["answer_choices"] = [{"letter": "A", "text": t} for t in "xyz"]
    err = first_error(validator_for(schema), pair)
    assert err is not None and err[0].startswith("answer_choices")


def test_a_blank_question_is_refused():
    pair = _published_pair()
    pair["question_text"] = "  "
    assert first_error(validator_for("pair"), pair)[0] == "question_text"


# --- 8. duplicate keys in params ---------------------------------------------------------

def test_a_duplicate_key_is_refused_with_the_line_of_the_second(tmp_path):
    lines = (REPO / "params.yaml").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("  learning_rate:"))
    lines.insert(at + 1, "  learning_rate: 0.1\n")
    path = tmp_path / "params.yaml"
    path.write_text("".join(lines))
    with pytest.raises(InputError, match="duplicate key 'learning_rate'") as err:
        load_params(path)
    assert err.value.line == at + 2


def test_a_duplicate_section_is_refused(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text() + "sft:\n  seed: 1\n")
    with pytest.raises(InputError, match="duplicate key 'sft'"):
        load_params(path)
