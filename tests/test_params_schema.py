"""schemas/params.schema.json is generated from the settings models (tools/params_schema.py):
the committed file is what the models give, a changed model shows as a stale schema, and an
error in params.yaml names its file, line and key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import create_model

from bias_judge.core.errors import InputError
from bias_judge.core.params import load_params
from bias_judge.tools import params_schema

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "schemas" / "params.schema.json"


def test_the_committed_schema_is_the_generated_one():
    assert COMMITTED.read_text(encoding="utf-8") == params_schema.schema_text(), \
        "run `bias-judge params-schema` after changing a settings model"


def test_a_changed_model_field_makes_the_committed_schema_stale(monkeypatch):
    from bias_judge.models.settings import DPOSettings

    changed = create_model("DPOSettings", __base__=DPOSettings,
                           loss_type=(Literal["sigmoid", "ipo"], ...))
    real = params_schema.sections

    monkeypatch.setattr(params_schema, "sections", lambda: {**real(), "dpo": changed})
    assert params_schema.schema_text() != COMMITTED.read_text(encoding="utf-8")
    assert params_schema.schema()["properties"]["dpo"]["properties"]["loss_type"]["enum"] == \
        ["sigmoid", "ipo"]


def test_the_check_command_refuses_a_stale_file_and_passes_a_fresh_one(cli, tmp_path):
    fresh = tmp_path / "fresh.json"
    assert cli("params-schema", "--out", fresh).exit_code == 0
    assert fresh.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")
    assert cli("params-schema", "--check", "--out", fresh).exit_code == 0
    stale = tmp_path / "stale.json"
    doc = json.loads(fresh.read_text())
    doc["properties"]["sft"]["properties"]["learning_rate"]["maximum"] = 2
    stale.write_text(json.dumps(doc, indent=2) + "\n")
    res = cli("params-schema", "--check", "--out", stale)
    assert res.exit_code == 1 and "differs from the settings models" in res.output
    assert json.loads(stale.read_text())["properties"]["sft"]["properties"]["learning_rate"]["maximum"] == 2


def test_every_section_of_params_yaml_has_a_model_and_trl_names_where_trl_has_them():
    from trl import DPOConfig, SFTConfig

    assert set(params_schema.sections()) == set(load_params(REPO / "params.yaml"))
    ours = {"max_rows", "effective_batch", "overlong", "precision", "lora", "verdict_weight",
            "balance_verdicts", "reference", "sft_weight"}
    for section, config in (("sft", SFTConfig), ("dpo", DPOConfig)):
        keys = set(params_schema.sections()[section].model_fields)
        assert keys - ours <= set(config.__dataclass_fields__), (section, keys - ours)


@pytest.mark.parametrize("old,new,field", [
    ("  learning_rate: 2.0e-4", "  learning_rate: -1", "sft.learning_rate"),
    ("  lr_scheduler_type: cosine", "  lr_scheduler_type: cosin", "sft.lr_scheduler_type"),
    ("  per_cell: 5", "  per_cell: '5'", "sample.per_cell"),
    ("  style: compact", "  style: compakt", "prompt.style"),
])
def test_a_bad_value_names_file_line_and_key(tmp_path, old, new, field):
    text = (REPO / "params.yaml").read_text()
    assert old in text, old
    bad = tmp_path / "params.yaml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_params(bad)
    line = next(i for i, ln in enumerate(bad.read_text().splitlines(), start=1) if ln.startswith(new))
    assert info.value.field == field and info.value.line == line
    assert str(info.value).startswith(f"{bad}:{line}:")
