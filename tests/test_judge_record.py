"""bias_judge.json, the merged folder's record of how the checkpoint must be queried: written
from the training settings, refused in one line when malformed, and read by `judge`, `demo`,
the Space and the Ollama export over the params (an explicit option over both), with one
warning line per value that differs from the folder's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bias_judge.core.errors import InputError
from bias_judge.core.schema import load_schema
from bias_judge.data.prompt import PROMPT_STYLES
from bias_judge.evaluation import inference
from bias_judge.models.judge_record import (RECORD_FILE, build_record, read_record,
                                            record_path, write_record)
from recipes import params, write_params
from test_judge import ScriptedJudge, user_pair, write_pairs

COMPACT, PUBLISHED = PROMPT_STYLES["compact"], PROMPT_STYLES["published"]


def record(**overrides) -> dict:
    values = dict(prompt_style="published", labeler="rule", reasoning="prose",
                  max_new_tokens=48, chat_template=None)
    return build_record("dpo", **{**values, **overrides})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from bias_judge.models.materialize import materialize

    path = tmp_path_factory.mktemp("record") / "tiny"
    materialize("tiny", path)
    return path


@pytest.fixture
def model(tiny, tmp_path) -> Path:
    """A copy of the tiny model folder this test may write a record into."""
    return Path(shutil.copytree(tiny, tmp_path / "merged"))


@pytest.fixture
def engine(monkeypatch) -> ScriptedJudge:
    scripted = ScriptedJudge("fair")
    monkeypatch.setattr(inference, "load_engine", lambda model_dir, **kwargs: scripted)
    return scripted


def warnings_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("warning:")]


# --- writing -----------------------------------------------------------------------------

def test_the_record_is_built_from_the_training_settings_and_reads_back(tmp_path):
    base = build_record("sft", prompt_style="compact", labeler="rule", reasoning="stepwise",
                        max_new_tokens=80, chat_template=None)
    assert base == {"version": 1, "checkpoint": "sft", "prompt_style": "compact",
                    "reasoning": "stepwise", "max_new_tokens": 80,
                    "chat_template": {"source": "base", "file": None}}
    # An override is named by its file alone; imported labels bring their own reasoning.
    other = record(labeler="import", chat_template="/home/me/templates/smol.jinja")
    assert other["reasoning"] == "imported"
    assert other["chat_template"] == {"source": "override", "file": "smol.jinja"}
    path = write_record(tmp_path, other)
    assert path == tmp_path / RECORD_FILE and read_record(tmp_path) == other
    assert read_record(tmp_path / "elsewhere") is None   # no file: the caller keeps its params


def test_a_value_the_schema_refuses_stops_before_training_naming_the_param():
    with pytest.raises(InputError) as exc:
        record(max_new_tokens=0)
    assert exc.value.field == "eval.max_new_tokens" and RECORD_FILE in exc.value.message


def test_the_schema_enums_are_the_codes_vocabularies():
    from bias_judge.core.vocabulary import RELEASED
    from bias_judge.data.labelers.rule import REASONING_STYLES

    props = load_schema("judge_record")["properties"]
    assert set(props["prompt_style"]["enum"]) == set(PROMPT_STYLES)
    assert set(props["reasoning"]["enum"]) == {*REASONING_STYLES, "imported"}
    assert set(props["checkpoint"]["enum"]) == set(RELEASED)


def test_a_published_checkpoint_carries_its_record(tmp_path):
    from bias_judge.publish.upload import upload_files

    (tmp_path / "config.json").write_text("{}")
    write_record(tmp_path, record())
    files, left_out = upload_files(tmp_path)
    assert RECORD_FILE in {f.path_in_repo for f in files} and RECORD_FILE not in left_out


# --- reading a malformed file ------------------------------------------------------------

@pytest.mark.parametrize("edit, where", [
    (lambda r: {**r, "prompt_style": "fancy"}, ": field 'prompt_style': "),
    (lambda r: {k: v for k, v in r.items() if k != "max_new_tokens"}, ": field 'max_new_tokens': "),
    (lambda r: {**r, "chat_template": {"source": "base", "file": "x.jinja"}},
     ": field 'chat_template.file': "),
    (lambda r: {**r, "version": 2},
     ": field 'version': version 2, but this bias-judge reads version 1"),
    (lambda r: "{not json", ":1: not valid JSON"),
])
def test_a_malformed_record_is_one_line_naming_file_and_field(cli, model, engine, tmp_path,
                                                              edit, where):
    bad = edit(record())
    record_path(model).write_text(bad if isinstance(bad, str) else json.dumps(bad))
    pairs = write_pairs(tmp_path / "in.jsonl", [user_pair(0)])
    res = cli("judge", "--model", model, "--pairs", pairs, "--out", tmp_path / "v.jsonl",
              "--params", write_params(tmp_path / "params.yaml"))
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"error: {record_path(model)}{where}"), res.stderr
    assert not engine.calls and not (tmp_path / "v.jsonl").exists()


# --- judge and demo ----------------------------------------------------------------------

def judge(cli, model, tmp_path, *options):
    pairs = write_pairs(tmp_path / "in.jsonl", [user_pair(0)])
    out = tmp_path / "v.jsonl"
    res = cli("judge", "--model", model, "--pairs", pairs, "--out", out,
              "--params", write_params(tmp_path / "params.yaml"), *options)
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text())["settings"], res.stderr


def test_judge_queries_with_the_folders_prompt_style_and_budget(cli, model, engine, tmp_path):
    p = params()
    assert (p["prompt"]["style"], p["eval"]["max_new_tokens"]) == ("compact", 80)
    # Without the file: the params, and not a word about it.
    settings, stderr = judge(cli, model, tmp_path)
    assert (settings["prompt_style"], settings["max_new_tokens"]) == ("compact", 80)
    assert warnings_in(stderr) == [] and engine.calls[-1]["prompts"][0].endswith(COMPACT[1])

    write_record(model, record(prompt_style="published", max_new_tokens=48))
    settings, stderr = judge(cli, model, tmp_path)
    assert (settings["prompt_style"], settings["max_new_tokens"]) == ("published", 48)
    assert engine.calls[-1]["prompts"][0].endswith(PUBLISHED[1])
    style, budget = warnings_in(stderr)
    assert style.startswith("warning: judge: prompt.style is compact, but ") and \
        style.endswith(f"{record_path(model)} records prompt style published for this "
                       "checkpoint; using published (pass --prompt-style compact to use it)")
    assert "eval.max_new_tokens is 80" in budget and "max new tokens 48" in budget


def test_an_option_given_is_used_with_a_warning_when_it_differs(cli, model, engine, tmp_path):
    write_record(model, record(prompt_style="published", max_new_tokens=48))
    settings, stderr = judge(cli, model, tmp_path, "--prompt-style", "compact",
                             "--max-new-tokens", "48")
    assert (settings["prompt_style"], settings["max_new_tokens"]) == ("compact", 48)
    assert warnings_in(stderr) == [
        f"warning: judge: --prompt-style compact differs from published, the prompt style "
        f"{record_path(model)} records for this checkpoint; using compact, as given"]
    # Agreeing with the folder is silent, whatever the params say.
    settings, stderr = judge(cli, model, tmp_path, "--prompt-style", "published")
    assert settings["prompt_style"] == "published"
    assert [w for w in warnings_in(stderr) if "prompt style" in w] == []


def test_the_demo_takes_the_folders_settings(model, tmp_path, monkeypatch):
    from bias_judge.demo import app
    from bias_judge.stages.cli import main

    seen = {}
    monkeypatch.setattr(app, "run_demo", lambda model_dir, **kwargs: seen.update(kwargs))
    write_record(model, record(prompt_style="published", max_new_tokens=48))
    res = CliRunner().invoke(main, ["demo", "--model", str(model),
                                    "--params", str(write_params(tmp_path / "params.yaml"))])
    assert res.exit_code == 0, res.output
    assert (seen["settings"].prompt_style, seen["settings"].max_new_tokens) == ("published", 48)
    assert len(warnings_in(res.stderr)) == 2 and all(
        w.startswith("warning: demo: ") for w in warnings_in(res.stderr))


def test_the_space_takes_the_downloaded_folders_settings(model, tmp_path, capsys):
    from bias_judge.demo import hub
    from bias_judge.demo.space import render_space
    from test_judge import GREEDY

    config = {"judge": {**GREEDY.__dict__, "prompt_style": "compact", "max_new_tokens": 32}}
    assert hub.judge_settings(config, model).prompt_style == "compact"   # no record: space.json
    write_record(model, record(prompt_style="published", max_new_tokens=48))
    settings = hub.judge_settings(config, model)
    assert (settings.prompt_style, settings.max_new_tokens) == ("published", 48)
    assert settings.swap_check == GREEDY.swap_check and settings.seed == GREEDY.seed
    err = capsys.readouterr().err
    assert "warning: space: space.json judge.prompt_style is compact" in err
    # The Space's copy of the library holds what reads the record.
    names = render_space(tmp_path / "space", checkpoint="dpo", repo_ids={"dpo": "a/b"},
                         settings=GREEDY, dtype="float32", max_model_len=2048)
    assert {"bias_judge/models/judge_record.py",
            "bias_judge/schemas/judge_record.schema.json"} <= set(names)


# --- the Ollama export -------------------------------------------------------------------

def test_the_modelfile_prompts_and_decodes_as_the_folder_records(tmp_path, monkeypatch):
    from bias_judge.stages.cli import main
    from test_export import BASE, modelfile_fields, write_tiny_llama

    merged = write_tiny_llama(tmp_path / "merged", tied=False)
    write_record(merged, record(prompt_style="published", max_new_tokens=33))
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "base_model.json").write_text(json.dumps(BASE))
    params = write_params(tmp_path / "params.yaml", export={"quantizations": ["q8_0"]})
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["export", "--checkpoint", "dpo", "--model", "merged",
                                    "--out-dir", "out", "--params", str(params)])
    assert res.exit_code == 0, res.output
    fields = modelfile_fields(Path("out/Modelfile").read_text(encoding="utf-8"))
    assert fields["SYSTEM"] == PUBLISHED[0]            # params.yaml says compact
    assert ("num_predict", "33") in fields["PARAMETER"]  # params.yaml says 80
    style, budget = warnings_in(res.stderr)
    assert style == (f"warning: export dpo: prompt.style is compact, but merged/{RECORD_FILE} "
                     "records prompt style published for this checkpoint; using published")
    assert budget.startswith("warning: export dpo: eval.max_new_tokens is 80, but ")
    assert "up to 33 new tokens" in Path("out/README.md").read_text(encoding="utf-8")
