"""Profiles: the committed params.yaml is the cpu profile; switching is reversible and validated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bias_judge.core.errors import InputError
from bias_judge.core.params import load_params
from bias_judge.tools.profiles import apply_profile, available, leaf_keys, load_profile, matching
from bias_judge.stages.cli import main as cli

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "profiles"


def test_committed_params_are_the_cpu_profile():
    assert apply_profile("cpu", REPO / "params.yaml", PROFILES, write=False) == []
    assert matching(REPO / "params.yaml", PROFILES) == ["cpu"]


def test_profiles_set_the_same_keys():
    names = available(PROFILES)
    assert {"cpu", "gpu", "smoke"} <= set(names)
    keys = {n: leaf_keys(load_profile(n, PROFILES)) for n in names}
    assert all(k == keys["cpu"] for k in keys.values()), "a key set by one profile only would not switch back"


def test_gpu_profile_is_the_published_recipe(tmp_path):
    gpu = load_profile("gpu", PROFILES)
    assert gpu["model"]["source"] == "google/gemma-4-E4B-it" and gpu["model"]["quantization"] == "nf4"
    s, d = gpu["sft"], gpu["dpo"]
    assert (s["lora"]["r"], s["lora"]["alpha"], s["lora"]["dropout"]) == (16, 32, 0.0)
    assert (s["learning_rate"], s["lr_scheduler_type"], s["warmup_steps"], s["weight_decay"]) == (2e-4, "cosine", 0.05, 0.01)
    assert (s["num_train_epochs"], s["effective_batch"], s["max_length"], s["seed"], s["optim"]) == (3, 16, 2048, 3407, "adamw_8bit")
    assert (d["loss_type"], d["beta"], d["learning_rate"], d["warmup_steps"], d["num_train_epochs"]) == ("sigmoid", 0.1, 5e-6, 0.1, 1)
    assert (d["effective_batch"], d["max_length"], d["reference"]) == (16, 2048, "base")


def test_gpu_target_modules_cover_the_text_model_only():
    """The regex picks every linear layer of Gemma 4's language model and nothing in the
    vision or audio towers (module names of Gemma4ForConditionalGeneration)."""
    import re

    pattern = load_profile("gpu", PROFILES)["sft"]["lora"]["target_modules"]
    hit = [
        "model.language_model.layers.0.self_attn.q_proj", "model.language_model.layers.41.mlp.down_proj",
        "model.language_model.layers.3.per_layer_input_gate", "model.language_model.layers.3.per_layer_projection",
    ]
    miss = ["model.vision_tower.encoder.layers.0.self_attn.q_proj.linear", "lm_head",
            "model.audio_tower.layers.0.self_attn.q_proj", "model.language_model.layers.0.input_layernorm",
            "model.language_model.per_layer_model_projection"]
    assert all(re.fullmatch(pattern, m) for m in hit)
    assert not any(re.fullmatch(pattern, m) for m in miss)


def test_switch_and_back_is_byte_identical(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    original = params.read_text()
    for name in ("smoke", "gpu"):
        changed = apply_profile(name, params, PROFILES)
        assert changed and "model.source" in changed
        assert matching(params, PROFILES) == [name]
        load_params(params)  # still valid
        assert "# tiny | gguf:smollm2" in params.read_text()  # comments survive
    apply_profile("cpu", params, PROFILES)
    assert params.read_text() == original


def test_cli_use_and_show(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    runner = CliRunner()
    res = runner.invoke(cli, ["profile", "use", "smoke", "--params", str(params), "--profiles-dir", str(PROFILES)])
    assert res.exit_code == 0 and "model.source" in res.output
    assert yaml.safe_load(params.read_text())["model"]["source"] == "tiny"
    res = runner.invoke(cli, ["profile", "show", "--params", str(params), "--profiles-dir", str(PROFILES)])
    assert res.output.strip() == "smoke"
    res = runner.invoke(cli, ["profile", "use", "nope", "--params", str(params), "--profiles-dir", str(PROFILES)])
    assert res.exit_code == 2 and "no profile 'nope'" in res.output and "smoke" in res.output


@pytest.mark.parametrize("body, needle", [
    ("sft:\n  learning_rate: -1\n", "sft.learning_rate"),
    ("sft:\n  lora: {r: 0}\n", "sft.lora.r"),
    ("sft:\n  learnin_rate: 0.1\n", "does not have"),
])
def test_invalid_profile_leaves_params_untouched(tmp_path, body, needle):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "bad.yaml").write_text(body)
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    before = params.read_text()
    with pytest.raises(InputError, match=needle):
        apply_profile("bad", params, profiles)
    assert params.read_text() == before


def test_a_block_mapping_replaced_by_a_flow_value_keeps_the_next_key(tmp_path):
    """A block mapping's end mark includes its line break: rewriting it as `{}` must not
    glue the next key onto the value (which made params.yaml unreadable)."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "bare.yaml").write_text("eval:\n  engine_options: {}\n")
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    assert apply_profile("bare", params, profiles) == ["eval.engine_options"]
    text = params.read_text()
    assert "  engine_options: {}\n" in text
    assert load_params(params)["eval"]["engine_options"] == {}
    assert matching(params, profiles) == ["bare"]


def test_crlf_params_keep_their_line_endings(tmp_path):
    params = tmp_path / "params.yaml"
    crlf = (REPO / "params.yaml").read_bytes().replace(b"\n", b"\r\n")
    params.write_bytes(crlf)
    assert "model.source" in apply_profile("smoke", params, PROFILES)
    switched = params.read_bytes()
    assert switched.count(b"\r\n") == switched.count(b"\n") == crlf.count(b"\n")
    assert load_params(params)["model"]["source"] == "tiny"
    apply_profile("cpu", params, PROFILES)
    assert params.read_bytes() == crlf


@pytest.mark.parametrize("name", ["../x", "../../elsewhere/x", "sub/x", "ABSOLUTE"])
def test_a_profile_name_is_never_a_path(tmp_path, name):
    """`profile use ../../elsewhere/x` read YAML from outside profiles/; every name here
    points at a valid profile file, which must not be read."""
    profiles = tmp_path / "a" / "b" / "profiles"
    profiles.mkdir(parents=True)
    if name == "ABSOLUTE":
        name = str(tmp_path / "abs" / "x")
    target = profiles / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("sample:\n  per_cell: 3\n")
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params)
    before = params.read_bytes()
    with pytest.raises(InputError, match="no profile"):
        apply_profile(name, params, profiles)
    assert params.read_bytes() == before
