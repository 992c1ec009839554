"""params.yaml is validated whole before any stage runs; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bias_judge.core.errors import InputError
from bias_judge.core.params import load_params
from bias_judge.stages.cli import main

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, mutate) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    mutate(params)
    out = tmp_path / "params.yaml"
    out.write_text(yaml.safe_dump(params, sort_keys=False))
    return out


def test_committed_params_are_valid():
    assert load_params(REPO / "params.yaml")["split"]["ood_category"]


def test_misspelt_key_is_named(tmp_path):
    path = _write(tmp_path, lambda p: p["pairs"].update(max_per_questoin=3))
    with pytest.raises(InputError) as exc:
        load_params(path)
    assert exc.value.field == "pairs.max_per_questoin"
    assert "pairs.max_per_questoin" in str(exc.value) and str(path) in str(exc.value)


def test_wrong_type_is_named(tmp_path):
    path = _write(tmp_path, lambda p: p["sample"].update(per_cell="five"))
    with pytest.raises(InputError) as exc:
        load_params(path)
    assert exc.value.field == "sample.per_cell"


def test_missing_key_is_named(tmp_path):
    path = _write(tmp_path, lambda p: p["split"].pop("seed"))
    with pytest.raises(InputError) as exc:
        load_params(path)
    assert exc.value.field == "split.seed"


def test_stage_stops_before_running_on_bad_params(tmp_path):
    path = _write(tmp_path, lambda p: p["split"]["in_dist"].update(adversarial=-1))
    out = tmp_path / "split"
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("")
    result = CliRunner().invoke(main, ["split", "--pairs", str(pairs), "--out", str(out), "--params", str(path)])
    assert result.exit_code == 2
    assert "split.in_dist.adversarial" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  bbq_dir: x\nsample: [unclosed\n")
    with pytest.raises(InputError) as exc:
        load_params(path)
    assert exc.value.line is not None and str(path) in str(exc.value)


def test_numbers_as_dvc_writes_them_stay_numbers(tmp_path):
    """`dvc exp run -S dpo.learning_rate=0.00005` stores `5e-05`, which YAML 1.1 (PyYAML's
    default) reads as a string; params are read with YAML 1.2 numbers."""
    import re

    text = (REPO / "params.yaml").read_text()
    dpo = text.index("\ndpo:")
    text = text[:dpo] + re.sub(r"learning_rate: \S+", "learning_rate: 5e-06", text[dpo:], count=1)
    assert "learning_rate: 5e-06" in text
    path = tmp_path / "params.yaml"
    path.write_text(text)
    assert load_params(path)["dpo"]["learning_rate"] == 5e-06
    from bias_judge.core.params import load_yaml
    assert load_yaml("a: 1e3\nb: x1e3\nc: 12\nd: .5") == {"a": 1000.0, "b": "x1e3", "c": 12, "d": 0.5}


@pytest.mark.parametrize("key, value", [("sample.per_cell", 5.0), ("split.seed", 42.0),
                                        ("sft.lora.r", 8.0)])
def test_integer_params_must_be_written_as_integers(tmp_path, key, value):
    """JSON Schema counts 5.0 as an integer; `sample.per_cell: 5.0` then crashed the sampler."""
    def mutate(p):
        *parents, last = key.split(".")
        node = p
        for k in parents:
            node = node[k]
        node[last] = value
    path = _write(tmp_path, mutate)
    with pytest.raises(InputError, match="not of type 'integer'") as exc:
        load_params(path)
    assert exc.value.field == key


def test_non_utf8_params_are_a_one_line_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes((REPO / "params.yaml").read_bytes() + b"# caf\xe9\n")
    result = CliRunner().invoke(main, ["split", "--pairs", str(tmp_path / "p.jsonl"),
                                       "--out", str(tmp_path / "s"), "--params", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not valid UTF-8" in lines[0]
    assert f"{path}:{(REPO / 'params.yaml').read_text().count(chr(10)) + 1}:" in lines[0]


def test_a_long_bad_value_is_quoted_short(tmp_path):
    path = _write(tmp_path, lambda p: p["split"].update(ood_category="x" * 1_000_000))
    with pytest.raises(InputError) as exc:
        load_params(path)
    assert exc.value.field == "split.ood_category" and len(str(exc.value)) < 600
    assert "characters left out" in str(exc.value)
