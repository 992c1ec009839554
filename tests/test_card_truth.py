"""What the cards tell a reader around the numbers: the status derived from the metrics by the
params' thresholds (cards rendered on both sides of each), the data's and the base model's
provenance from what the run recorded, and cells and claims that mean what the legend says."""

from __future__ import annotations


from bias_judge.core.settings import replace as settings_replace
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from bias_judge.card.dataset import render_dataset_card
from bias_judge.card.inputs import load_inputs
from bias_judge.card.provenance import DataContext
from bias_judge.card.render import CardSettings, render_card
from bias_judge.card.status import FitnessSettings
from bias_judge.card.summary import confusion_records, metrics_summary
from bias_judge.card.validate import front_matter, validate_dataset_card_text
from bias_judge.core.errors import InputError
from bias_judge.data import fetch_bbq, fetch_pairs
from recipes import card_context, settings

FIXTURES = Path(__file__).parent / "fixtures" / "card"
PRIMARY = "holdout"   # the fixture's human-labelled set, on which the status rests


@pytest.fixture
def work(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "in")
    return tmp_path / "in"


def _edit(path: Path, fn) -> None:
    obj = json.loads(path.read_text())
    fn(obj)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True))


def _card_settings(**overrides) -> CardSettings:
    return settings("card", CardSettings, **overrides)


def _fitness() -> FitnessSettings:
    return _card_settings().fitness


def _render(work: Path, checkpoint: str = "dpo", card: CardSettings | None = None, **ctx) -> str:
    inputs = load_inputs(work / "metrics", work / "data")
    return render_card(checkpoint, inputs, card or _card_settings(), card_context(**ctx),
                       metrics_dir=str(work / "metrics"), data_dir=str(work / "data"))


def _status(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("## Status: "))[len("## Status: "):]


def _set_primary(work: Path, kappa: dict | None = None, pf: float | None = None) -> None:
    def change(o):
        body = o["sets"][PRIMARY]
        if kappa is not None:
            body["kappa_in_dist"].update(kappa)
        if pf is not None:
            body["parse_failure_rate"].update(value=pf, ci_low=pf / 2, ci_high=pf * 2)
    _edit(work / "metrics" / "eval_dpo.json", change)


# --- status from the numbers ------------------------------------------------------------

def test_the_fixture_run_is_fit_for_use_and_the_card_says_why(work):
    s = _fitness()
    text = _render(work)
    assert _status(text) == "fit for use on pairs like its eval set"
    assert f"lies at or above {s.min_kappa:g}" in text
    # The rule is printed with this run's thresholds.
    assert f"at least {s.min_pairs} scored pairs" in text and f"at least {s.min_kappa:g}," in text
    assert "Given the status above" not in text  # no "for inspection only" caveat on a fit card


@pytest.mark.parametrize("side, kappa, expect", [
    ("lower end just above zero", {"ci_low": 1e-3}, "experimental"),
    ("lower end at zero", {"ci_low": 0.0}, "a pipeline demonstration"),
    ("interval below zero", {"value": -0.2, "ci_low": -0.4, "ci_high": -0.05}, "a pipeline demonstration"),
    ("no scored pair", {"value": None, "ci_low": None, "ci_high": None, "n": 0}, "a pipeline demonstration"),
    ("one gold verdict", {"value": None, "ci_low": None, "ci_high": None, "n": 12}, "a pipeline demonstration"),
])
def test_zero_in_the_interval_makes_a_demonstration(work, side, kappa, expect):
    _set_primary(work, kappa=kappa)
    text = _render(work)
    assert _status(text).startswith(expect), side
    if expect.startswith("a pipeline"):
        assert "not to judge real outputs" in text
        assert "Given the status above, these snippets are for reproducing" in text


def test_min_kappa_threshold_both_sides(work):
    s = _fitness()
    _set_primary(work, kappa={"ci_low": s.min_kappa})
    assert _status(_render(work)).startswith("fit for use")
    _set_primary(work, kappa={"ci_low": s.min_kappa - 1e-3})
    text = _render(work)
    assert _status(text).startswith("experimental")
    assert f"is below {s.min_kappa:g}" in text


def test_min_pairs_threshold_both_sides(work):
    s = _fitness()
    _set_primary(work, kappa={"n": s.min_pairs})
    assert _status(_render(work)).startswith("fit for use")
    _set_primary(work, kappa={"n": s.min_pairs - 1})
    text = _render(work)
    assert _status(text).startswith("experimental")
    assert f"rests on {s.min_pairs - 1} scored pairs" in text


def test_parse_failure_threshold_both_sides(work):
    s = _fitness()
    _set_primary(work, pf=s.max_parse_failures)
    assert _status(_render(work)).startswith("fit for use")
    _set_primary(work, pf=s.max_parse_failures + 1e-3)
    text = _render(work)
    assert _status(text).startswith("experimental")
    assert "of its replies miss the verdict format (at most" in text


def test_thresholds_come_from_params(work):
    strict = settings_replace(_fitness(), min_kappa=0.7)
    text = _render(work, card=_card_settings(fitness=strict))
    assert _status(text).startswith("experimental")
    assert "at least 0.7," in text


def test_the_status_states_the_verdict_spread_and_the_base_replies(work):
    def counts(o):
        body = o["sets"][PRIMARY]
        body["confusion"]["in_dist"] = {"labels": ["A", "B", "TIE"], "parse_failures": [1, 0, 0],
                                        "matrix": [[0, 0, 9], [0, 0, 4], [2, 0, 5]]}
    _edit(work / "metrics" / "eval_dpo.json", counts)
    _edit(work / "metrics" / "eval_base.json",
          lambda o: o["sets"][PRIMARY].update(generation={"parse_failures": 175, "predictions": 175}))
    text = _render(work)
    assert (f"on the 20 in-distribution pairs of `{PRIMARY}` it answered: A 2, B 0, TIE 18; the "
            f"gold verdicts of those pairs: A 9, B 4, TIE 7. It gave no verdict on 1 more.") in text
    assert "the untuned base model gave no verdict in the trained format in any of its 175 replies" in text


def test_advice_is_withheld_when_neither_checkpoint_beats_chance(work):
    def chance(o):
        o["sets"][PRIMARY]["kappa_in_dist"].update(value=0.01, ci_low=-0.1, ci_high=0.12)
    for ckpt in ("sft", "dpo"):
        _edit(work / "metrics" / f"eval_{ckpt}.json", chance)
    text = _render(work)
    assert "Neither SFT+DPO nor SFT judges better than chance" in text
    assert "**Choose" not in text


# --- cells and claims -------------------------------------------------------------------

def test_a_ratio_renders_as_a_ratio(work):
    text = _render(work)
    assert "length ratio chosen over rejected 0.73" in text


@pytest.mark.parametrize("interval, claims", [((16.99, 23.19), True), ((-3.0, 23.19), False)])
def test_a_length_claim_needs_an_interval_that_excludes_zero(work, interval, claims):
    _edit(work / "metrics" / "eval_dpo.json", lambda o: o["sets"][PRIMARY]["verbosity_bias"].update(
        ci_low=interval[0], ci_high=interval[1]))
    text = _render(work)
    assert ("tends to name the longer of the two responses" in text) == claims
    assert ("Whether SFT+DPO leans on length cannot be told" in text) == (not claims)


@pytest.mark.parametrize("low, claims", [(0.057, True), (0.0, False)])
def test_a_position_claim_needs_an_interval_that_excludes_zero(work, low, claims):
    _edit(work / "metrics" / "eval_dpo.json",
          lambda o: o["sets"][PRIMARY]["position_bias_in_dist"].update(ci_low=low))
    text = _render(work)
    assert ("on a share of pairs whose 95% interval excludes zero" in text) == claims
    assert ("cannot be told from the `holdout` set (the position-bias interval" in text) == (not claims)


def test_an_undefined_metric_everywhere_is_not_called_unmeasured(work):
    def undefined(o):
        o["sets"]["split"]["kappa_tie"] = {"value": None, "ci_low": None, "ci_high": None, "n": 3}
    for ckpt in ("base", "sft", "dpo"):
        _edit(work / "metrics" / f"eval_{ckpt}.json", undefined)
    text = _render(work)
    section = text.split("### Eval set `split`", 1)[1]
    assert "| κ, both clean (TIE expected) | — | undefined for every checkpoint |" in section


# --- placeholders -----------------------------------------------------------------------

def test_placeholder_repo_ids_are_never_shown_as_published(work):
    text = _render(work)
    assert "your-hf-name" not in text.split("---", 2)[2]  # the body: links, quick start, BibTeX
    assert 'MODEL_ID = "models/dpo/merged"' in text and "@misc" not in text
    real = _card_settings(repo_ids={"dpo": "someone/judge", "sft": "someone/judge-sft",
                                    "dataset": "someone/judge-pairs"})
    text = _render(work, card=real)
    assert 'MODEL_ID = "someone/judge"' in text and "https://huggingface.co/someone/judge-sft" in text
    assert "@misc{judge," in text
    assert front_matter(text)["datasets"] == ["someone/judge-pairs"]


# --- provenance ---------------------------------------------------------------------------

def _source(work: Path, source: dict) -> None:
    _edit(work / "data" / "bbq.meta.json", lambda o: o.update(source=source))


def test_embedded_items_are_named_as_such_and_claim_no_dataset(work):
    _source(work, {"kind": fetch_bbq.EMBEDDED, "files": 11})
    text = _render(work)
    assert "**they are not BBQ data**" in text and "nyu-mll/BBQ" not in text
    front = front_matter(text)
    assert "datasets" not in front
    types = {r["dataset"]["type"] for r in front["model-index"][0]["results"]}
    assert types == {"bias-judge-eval-holdout", "bias-judge-eval-split"}
    assert "whose design it follows" in text
    inputs = load_inputs(work / "metrics", work / "data")
    dataset = render_dataset_card(inputs, "your-hf-name/pairs", None, labeler="rule",
                                  ood_category="religion", data_ctx=card_context().data)
    assert front_matter(dataset)["license"] == "apache-2.0"


def test_upstream_bbq_names_the_pinned_commit(work):
    text = _render(work)  # the fixture's ingest recorded upstream BBQ
    assert f"at commit `{fetch_bbq.PINNED_COMMIT[:7]}`" in text and "git blob id" in text
    assert "its data comes from" in text


def test_files_that_are_neither_say_how_many_match_the_pins(work):
    _source(work, {"kind": fetch_bbq.UNVERIFIED, "files": 11, "matched": 6, "of": 11,
                   "repo": fetch_bbq.BBQ_REPO, "commit": fetch_bbq.PINNED_COMMIT})
    text = _render(work)
    assert "6 of the 11 files equal their upstream file" in text and "the other 5 do not" in text
    inputs = load_inputs(work / "metrics", work / "data")
    with pytest.raises(InputError) as exc:
        render_dataset_card(inputs, "a/b", None, labeler="rule", ood_category="religion",
                            data_ctx=card_context().data)
    assert exc.value.field == "card.dataset_license"


def _imported(work: Path, sha: str) -> DataContext:
    _edit(work / "data" / "pairs.meta.json",
          lambda o: o.update(inputs={"data/judge-pairs/pairs.jsonl": sha}))
    return DataContext(pairs_source="import", pairs_import_file="data/judge-pairs/pairs.jsonl",
                       generator="template", generator_models=("models/base",))


def test_imported_pairs_name_the_published_dataset_only_when_the_checksum_is_pinned(work):
    pinned = fetch_pairs.FILES["pairs.jsonl"][1]
    text = _render(work, data=_imported(work, pinned))
    assert f"SHA-256 `{pinned}`" in text and fetch_pairs.DATASET_ID in text
    assert front_matter(text)["datasets"] == [fetch_pairs.DATASET_ID]
    other = hashlib.sha256(b"edited").hexdigest()
    text = _render(work, data=_imported(work, other))
    assert f"SHA-256 `{other}`" in text and "matches no pinned published file" in text
    assert fetch_pairs.DATASET_ID not in text and "datasets" not in front_matter(text)


def test_the_human_holdout_names_its_dataset_when_its_file_is_the_pinned_one(work):
    pinned = fetch_pairs.FILES["eval_holdout.jsonl"][1]
    for ckpt in ("base", "sft", "dpo"):
        _edit(work / "metrics" / f"eval_{ckpt}.json", lambda o: o["sets"][PRIMARY].update(
            eval_file={"name": "eval_holdout.jsonl", "sha256": pinned}))
    results = front_matter(_render(work))["model-index"][0]["results"]
    types = {r["dataset"]["config"]: r["dataset"]["type"] for r in results}
    assert types[PRIMARY] == fetch_pairs.DATASET_ID and types["split"] == "bias-judge-eval-split"


def test_a_gguf_base_states_file_quantisation_and_upstream(work):
    _edit(work / "metrics" / "base_model.json", lambda o: o.update(
        kind="gguf", source="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1, dequantised)",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", license="apache-2.0", dtype="float32",
        gguf={"file": "SmolLM2-135M-Instruct.Q4_1.gguf", "quantization": "Q4_1"}))
    text = _render(work)
    assert ("| Base weights | the GGUF file `SmolLM2-135M-Instruct.Q4_1.gguf` (Q4_1 quantisation) of "
            "[`HuggingFaceTB/SmolLM2-135M-Instruct`]") in text
    assert "dequantised to float32 safetensors" in text


def test_ingest_records_what_its_files_are(tmp_path, embedded_bbq, monkeypatch):
    from bias_judge.data.ingest import ingest

    assert ingest(embedded_bbq, tmp_path / "a.jsonl").sidecars[0].source["kind"] == fetch_bbq.EMBEDDED
    # Two category files standing in for upstream BBQ: pinned by their own blob ids.
    folder = tmp_path / "bbq"
    folder.mkdir()
    for name in ("Age.jsonl", "Religion.jsonl"):
        (folder / name).write_bytes((embedded_bbq / name).read_bytes())
    (folder / "Religion.jsonl").write_bytes((folder / "Religion.jsonl").read_bytes() + b"\n")
    pins = {n: fetch_bbq.Pin(fetch_bbq.git_blob_id((folder / n).read_bytes()))
            for n in ("Age.jsonl", "Religion.jsonl")}
    monkeypatch.setattr(fetch_bbq, "PINS", {**fetch_bbq.PINS, **pins})
    source = ingest(folder, tmp_path / "b.jsonl").sidecars[0].source
    assert (source["kind"], source["files"], source["commit"]) == (fetch_bbq.UPSTREAM, 2,
                                                                   fetch_bbq.PINNED_COMMIT)
    (folder / "Age.jsonl").write_bytes((folder / "Age.jsonl").read_bytes() + b"\n")
    source = ingest(folder, tmp_path / "c.jsonl").sidecars[0].source
    assert (source["kind"], source["matched"]) == (fetch_bbq.UNVERIFIED, 1)


def test_gguf_quantisation_is_read_from_the_file_name():
    from bias_judge.models.sources import gguf_quantization

    assert gguf_quantization("SmolLM2-135M-Instruct.Q4_1.gguf") == "Q4_1"
    assert gguf_quantization("gemma-3-270m-q4_k_m.gguf") == "Q4_K_M"
    assert gguf_quantization("model-f16.gguf") == "F16"
    assert gguf_quantization("model.gguf") is None


# --- the dataset card and the summary files ------------------------------------------------

def test_dataset_card_follows_the_hub_conventions(work):
    inputs = load_inputs(work / "metrics", work / "data")
    text = render_dataset_card(inputs, "someone/pairs", None, labeler="rule",
                               ood_category="religion", data_ctx=card_context().data)
    validate_dataset_card_text(text)
    front = front_matter(text)
    assert front["license"] == "cc-by-4.0" and front["task_categories"] == ["text-classification"]
    assert front["size_categories"] == ["1K<n<10K"]  # the fixture's 2,370 pairs
    paths = [c["data_files"][0]["path"] for c in front["configs"]]
    assert paths == ["pairs.jsonl", "split/eval.jsonl", "split/train.jsonl", "labels.jsonl",
                     "rows/sft.jsonl", "rows/dpo.jsonl"]
    assert 'load_dataset("someone/pairs", "pairs")' in text
    assert "| `sft` | `rows/sft.jsonl` | train | 3,496 |" in text


def test_summary_and_confusion_records_are_the_metrics(work):
    inputs = load_inputs(work / "metrics", work / "data")
    primary = {c: inputs.evals[c][PRIMARY] for c in ("base", "sft", "dpo")}
    summary = metrics_summary(primary)
    raw = json.loads((work / "metrics" / "eval_dpo.json").read_text())["sets"][PRIMARY]
    assert summary["dpo"] == {"kappa": round(raw["kappa_in_dist"]["value"], 3),
                              "low": round(raw["kappa_in_dist"]["ci_low"], 3),
                              "high": round(raw["kappa_in_dist"]["ci_high"], 3),
                              "n": raw["kappa_in_dist"]["n"]}
    records = confusion_records(primary["dpo"])
    matrix = raw["confusion"]["in_dist"]["matrix"]
    assert len(records) == sum(map(sum, matrix)) + sum(map(sum, raw["confusion"]["ood"]["matrix"]))
    assert records.count({"gold": "A", "predicted": "B"}) == matrix[0][1] + raw["confusion"]["ood"]["matrix"][0][1]
