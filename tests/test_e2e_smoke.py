"""The whole pipeline end to end on the smoke profile (tiny model, a few dozen rows), in a
temporary copy of the repository: every stage runs, retraining DPO reruns only what follows
it, and `dvc metrics diff` sees the change."""

from __future__ import annotations

import json
import subprocess

import pytest

from pipeline_copy import dvc, dvc_env, make_copy, ran_stages, set_param, snapshot, written_outside_outs

pytestmark = pytest.mark.e2e


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo,
                   env=dvc_env(), check=True, capture_output=True)


def _bias_judge(repo, *args) -> str:
    proc = subprocess.run(["bias-judge", *args], cwd=repo, env=dvc_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory):
    repo = make_copy(tmp_path_factory.mktemp("smoke"))
    _bias_judge(repo, "profile", "use", "smoke")
    before = snapshot(repo)
    out = dvc(repo, "repro")
    undeclared = written_outside_outs(repo, before)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "smoke run")
    return repo, out, undeclared


def test_every_stage_runs(smoke_repo):
    repo, out, _ = smoke_repo
    stages = ran_stages(out)
    for stage in ["ingest", "sample", "candidates", "enrich", "pairs", "split", "label", "format",
                  "base_model", "sft", "dpo", "evaluate@base", "evaluate@sft", "evaluate@dpo",
                  "probe@sft", "probe@dpo", "card", "export@sft", "export@dpo"]:
        assert stage in stages, f"{stage} did not run:\n{out}"


def test_every_file_the_pipeline_writes_is_a_declared_output(smoke_repo):
    _, _, undeclared = smoke_repo
    assert undeclared == []


def test_outputs_are_complete_and_valid(smoke_repo):
    repo, _, _ = smoke_repo
    for ckpt in ["base", "sft", "dpo"]:
        metrics = json.loads((repo / f"metrics/eval_{ckpt}.json").read_text())
        assert metrics["checkpoint"] == ckpt
        assert "kappa_in_dist" in metrics["sets"]["split"]
    for name in ["sft", "dpo"]:
        summary = json.loads((repo / f"metrics/train_{name}.json").read_text())
        assert summary["steps"] > 0 and summary["rows"] > 0
        assert (repo / f"models/{name}/merged/config.json").exists()
        # The tiny Gemma 4 is not converted: the smoke profile asks for no GGUF, and says so.
        export = json.loads((repo / f"models/{name}/gguf/export.json").read_text())
        assert export["skipped"] and export["files"] == []
    for card in ["model_card/dpo/README.md", "model_card/sft/README.md"]:
        _bias_judge(repo, "card", "validate", card)
        assert str(repo) not in (repo / card).read_text()
    _bias_judge(repo, "card", "validate", "model_card/dataset/README.md")
    shown = dvc(repo, "metrics", "show")
    assert "metrics/summary.json" in shown and "metrics/eval_dpo.json" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 200


def _stage_output(out: str, stage: str) -> list[str]:
    """The lines `dvc repro` printed for one stage (its command line excluded)."""
    block = out.split(f"Running stage '{stage}':", 1)[1].split("Running stage '", 1)[0]
    return [line for line in block.splitlines()[2:] if line.strip()
            and not line.startswith(("Updating lock file", "Use `dvc push`"))]


def test_model_stages_keep_engine_output_in_a_log(smoke_repo):
    repo, out, _ = smoke_repo
    for stage, log in [("base_model", "models/base.log"), ("sft", "models/sft.log"),
                       ("dpo", "models/dpo.log"), ("evaluate@dpo", "eval/dpo.log")]:
        lines = _stage_output(out, stage)
        # Progress notes and the one-line summary, nothing from the libraries.
        assert len(lines) <= 3, (stage, lines)
        assert not any(word in line for line in lines
                       for word in ("Loading weights", "WARNING", "{'loss'", "kernels"))
        if stage != "base_model":  # the tiny model is made in-process, with nothing to say
            assert (repo / log).stat().st_size > 0, log


def test_retraining_dpo_reruns_only_dpo_eval_probe_and_card(smoke_repo):
    repo, _, _ = smoke_repo
    set_param(repo, "dpo.learning_rate", 3.0e-4)
    out = dvc(repo, "repro")
    assert ran_stages(out) == {"dpo", "evaluate@dpo", "probe@dpo", "card", "export@dpo"}
    diff = dvc(repo, "metrics", "diff", "HEAD", "--all")
    # Only the headline numbers are metrics: no timing, loss or config field reaches a diff.
    rows = [line.split() for line in diff.splitlines()[1:] if line.strip()]
    assert rows and {r[0] for r in rows} == {"metrics/summary.json"}
    assert {r[1] for r in rows} <= {f"{c}.{k}" for c in ("base", "sft", "dpo")
                                    for k in ("kappa", "low", "high", "n")}


def test_two_queued_experiments_run_on_two_workers(smoke_repo):
    """A sweep (docs/scale.md#sweeps): two experiments queued, `dvc queue start -j 2`, both
    succeed, each with its own params; the workspace is left as it was."""
    import time

    repo, _, _ = smoke_repo
    before = (repo / "params.yaml").read_text()
    for tag in ("sweep-a", "sweep-b"):
        dvc(repo, "exp", "run", "--queue", "-n", tag, "-S", f"card.extra_tags=[{tag}]")
    try:
        dvc(repo, "queue", "start", "-j", "2")
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            status = dvc(repo, "queue", "status")
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(5)
        else:
            raise AssertionError(f"the queue did not finish:\n{status}")
    finally:
        subprocess.run(["dvc", "queue", "stop", "--kill"], cwd=repo, env=dvc_env(),
                       capture_output=True)
    assert "Failed" not in status, status
    shown = json.loads(dvc(repo, "exp", "show", "--json"))
    done = {}
    for baseline in shown:
        for group in baseline.get("experiments") or []:
            for run in group.get("revs") or []:
                data = run.get("data") or {}
                name = run.get("name") or data.get("name")
                params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
                done[name] = params.get("card", {}).get("extra_tags")
    assert done.get("sweep-a") == ["sweep-a"] and done.get("sweep-b") == ["sweep-b"], done
    assert (repo / "params.yaml").read_text() == before
