"""The Hub's `.eval_results/` file the card stage writes beside each released card
(card/eval_results.py, https://huggingface.co/docs/hub/eval-results), and the card's trust
sections: the averaged-probability protocol table and the probe table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from bias_judge.card.inputs import load_inputs
from bias_judge.card.render import CardSettings, render_report
from bias_judge.core.artifacts import write_result
from bias_judge.core.schema import first_error, validator_for
from bias_judge.data import fetch_pairs
from bias_judge.publish.upload import eval_results_files
from recipes import card_context, settings

FIXTURES = Path(__file__).parent / "fixtures" / "card"
REAL_IDS = {"dpo": "someone/bias-judge", "sft": "someone/bias-judge-sft",
            "dataset": "someone/bias-judge-pairs"}


def _render(tmp_path, repo_ids, pin_holdout: bool):
    work = tmp_path / "in"
    shutil.copytree(FIXTURES, work)
    if pin_holdout:
        sha = fetch_pairs.FILES["eval_holdout.jsonl"][1]
        for c in ("base", "sft", "dpo"):
            path = work / "metrics" / f"eval_{c}.json"
            doc = json.loads(path.read_text())
            doc["sets"]["holdout"]["eval_file"] = {"name": "eval_holdout.jsonl", "sha256": sha}
            path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    write_result(render_report(load_inputs(work / "metrics", work / "data"),
                  settings("card", CardSettings, repo_ids=repo_ids),
                  card_context(ood_category="religion"), out, out / "summary.json",
                  out / "plots", trust_plots_dir=out / "trust",
                  metrics_dir=str(work / "metrics"), data_dir=str(work / "data")))
    return work, out


def test_eval_results_name_only_hub_datasets_and_carry_the_measured_values(tmp_path):
    work, out = _render(tmp_path, REAL_IDS, pin_holdout=True)
    entries = yaml.safe_load((out / "dpo" / ".eval_results" / "bias-judge.yaml").read_text())
    assert first_error(validator_for("eval_results"), entries) is None
    by_task = {e["dataset"]["task_id"]: e for e in entries}
    metrics = json.loads((work / "metrics" / "eval_dpo.json").read_text())["sets"]
    holdout = by_task["holdout-kappa_in_dist"]
    assert holdout["dataset"]["id"] == fetch_pairs.DATASET_ID
    assert holdout["value"] == round(metrics["holdout"]["kappa_in_dist"]["value"], 4)
    assert by_task["holdout-probability-ece"]["value"] == \
        round(metrics["holdout"]["probability_protocol"]["ece"]["value"], 4)
    assert holdout["source"]["url"] == "https://huggingface.co/someone/bias-judge"
    # the split's pairs came from the project's own dataset repo
    assert by_task["split-kappa_in_dist"]["dataset"]["id"] == "someone/bias-judge-pairs"
    assert [f.path_in_repo for f in eval_results_files(out / "dpo")] == \
        [".eval_results/bias-judge.yaml"]


def test_no_hub_dataset_means_an_empty_list_that_publish_does_not_send(tmp_path):
    placeholders = {"dpo": "your-hf-name/bias-judge", "sft": "your-hf-name/bias-judge-sft",
                    "dataset": "your-hf-name/bias-judge-pairs"}
    _, out = _render(tmp_path, placeholders, pin_holdout=False)
    assert yaml.safe_load((out / "sft" / ".eval_results" / "bias-judge.yaml").read_text()) == []
    assert eval_results_files(out / "sft") == []


def test_the_card_shows_the_probability_protocol_the_probes_and_writes_trust_plots(tmp_path):
    work, out = _render(tmp_path, REAL_IDS, pin_holdout=False)
    card = (out / "dpo" / "README.md").read_text()
    pp = json.loads((work / "metrics" / "eval_dpo.json").read_text())["sets"]["holdout"][
        "probability_protocol"]
    row = next(line for line in card.splitlines()
               if line.startswith("| κ in-dist, averaged verdict probabilities"))
    assert f"{pp['kappa_in_dist']['value']:.3f}" in row
    assert "## Bias probes of the judge" in card
    probe = json.loads((work / "metrics" / "probe_dpo.json").read_text())
    row = next(line for line in card.splitlines() if line.startswith("| Groups exchanged: order"))
    assert f"{probe['counterfactual']['flip_rate']['value'] * 100:.1f}%" in row
    coverage = json.loads((out / "trust" / "coverage_dpo.json").read_text())
    assert [p["threshold"] for p in coverage] == [c["threshold"] for c in pp["coverage_agreement"]]
    reliability = json.loads((out / "trust" / "reliability_dpo.json").read_text())
    assert all(p["n"] > 0 and p["checkpoint"] == "dpo" for p in reliability)
