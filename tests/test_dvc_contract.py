"""dvc.yaml against the code: every stage declares the project files its command imports
(transitively, lazy imports included; see tests/contract.py), exactly the params keys its
stage module reads (PARAMS, plus keys interpolated into the command), and no code it does
not run. A stale declaration here means `dvc repro` skips a stage whose code changed."""

from __future__ import annotations

import re

import click
import pytest
import yaml

from contract import REPO, code_deps, params_read, stage_module


@pytest.fixture(scope="module")
def stages():
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        found = list(repo.index.stages)
    return found


def _outs(stages) -> set[str]:
    return {o.def_path for st in stages for o in st.outs}


def _deps(stage) -> set[str]:
    return {d.def_path for d in stage.deps if type(d).__name__ != "ParamsDependency"}


def _covered(path: str, declared: set[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in declared)


def _name(stage) -> str:
    return stage.addressing.split(":")[-1]


def test_every_stage_declares_the_code_it_runs(stages):
    outs = _outs(stages)
    missing = {}
    for st in stages:
        lacking = sorted(f for f in code_deps(st.cmd, outs) if not _covered(f, _deps(st)))
        if lacking:
            missing[_name(st)] = lacking
    assert not missing, f"dvc.yaml lacks deps that the stage's code imports or reads: {missing}"


def test_no_stage_declares_code_it_does_not_run(stages):
    """A code dep nothing imports reruns the stage needlessly (and hides a missing one)."""
    outs = _outs(stages)
    extra = {}
    for st in stages:
        needed = code_deps(st.cmd, outs)
        code = {d for d in _deps(st) if re.match(r"(stages|src|schemas|model_card)\b", d)
                and not d.startswith("src/bias_judge/embedded")}
        unused = sorted(d for d in code if not any(_covered(f, {d}) for f in needed))
        if unused:
            extra[_name(st)] = unused
    assert not extra, f"dvc.yaml deps that the stage's code never imports or reads: {extra}"


def _interpolated(raw: dict, name: str) -> set[str]:
    """Params keys written as ${...} into a stage's command in dvc.yaml."""
    base = name.split("@")[0]
    body = raw["stages"][base]
    cmd = body.get("do", body)["cmd"]
    return {k for k in re.findall(r"\$\{([\w.]+)\}", cmd) if k != "key" and not k.startswith("item.")}


def test_every_stage_declares_exactly_the_params_it_reads(stages):
    raw = yaml.safe_load((REPO / "dvc.yaml").read_text())
    problems = {}
    for st in stages:
        declared = {k for d in st.deps if type(d).__name__ == "ParamsDependency" for k in d.params}
        read = params_read(st.cmd) | _interpolated(raw, _name(st))
        missing = sorted(k for k in read if not any(k == d or k.startswith(d + ".") for d in declared))
        broader = sorted(d for d in declared if not any(d == k or d.startswith(k + ".") for k in read))
        if missing or broader:
            problems[_name(st)] = {"missing": missing, "not read (or broader than read)": broader}
    assert not problems, f"dvc.yaml params differ from what the stages read: {problems}"


def test_stages_read_params_yaml_by_default_and_have_no_other_recipe(stages):
    from bias_judge.stages.cli import main

    for st in stages:
        module = stage_module(st.cmd)
        words = st.cmd.split()
        command = main.get_command(click.Context(main), words[1])
        if isinstance(command, click.Group):
            command = command.get_command(click.Context(command), words[2])
        option = {p.name: p for p in command.params}.get("params_path")
        if params_read(st.cmd):
            assert option is not None and option.default == "params.yaml", module


def test_every_stage_builds_its_settings_from_params_yaml_and_every_profile(stages, tmp_path):
    """The settings classes name exactly the params keys, for the committed params.yaml and
    after each profile is merged onto it (a key the code lacks, or the reverse, fails)."""
    import importlib
    import shutil

    from bias_judge.tools.profiles import apply_profile, available
    from bias_judge.core.settings import read_settings

    modules = {stage_module(st.cmd) for st in stages} | {"bias_judge.stages.metrics"}
    for profile in [None, *available(REPO / "profiles")]:
        path = tmp_path / f"{profile}.yaml"
        shutil.copy(REPO / "params.yaml", path)
        if profile:
            apply_profile(profile, path, REPO / "profiles")
        for module in sorted(modules):
            declared = importlib.import_module(module).PARAMS
            assert set(read_settings(path, declared)) == set(declared), (profile, module)


def test_training_checkpoints_fingerprint_the_library_code_their_stage_declares(stages):
    """A training stage resumes its checkpoints only while the fingerprinted code is the same
    (models.training.run_fingerprint_parts). That code must be every library file the stage
    declares below the training phase (models/, data/), so that no change DVC reruns the
    stage for can be resumed over; and nothing DVC does not rerun it for."""
    from bias_judge.core.code import code_files

    by_name = {_name(st): st for st in stages}
    for stage in ("sft", "dpo"):
        fingerprinted = {p.resolve().relative_to(REPO).as_posix()
                         for p in code_files(f"bias_judge.models.{stage}").values()}
        declared = _deps(by_name[stage])
        assert all(_covered(f, declared) for f in fingerprinted), stage
        library = {f for f in code_deps(by_name[stage].cmd, _outs(stages))
                   if f.startswith(("src/bias_judge/models/", "src/bias_judge/data/"))}
        assert library and library <= fingerprinted, (stage, sorted(library - fingerprinted))
        assert "src/bias_judge/models/training.py" in fingerprinted


@pytest.mark.parametrize("tool", ["src/bias_judge/tools/profiles.py",
                                  "src/bias_judge/publish/upload.py",
                                  "stages/experiments.py", "stages/profile.py", "stages/publish.py"])
def test_editing_a_tool_marks_no_stage_stale(stages, tool):
    """The profile switcher, the Hub upload and the experiment record are run by people, not
    by the pipeline: no stage declares them, so editing one reruns nothing."""
    assert (REPO / tool).is_file()
    assert [_name(st) for st in stages if _covered(tool, _deps(st))] == []
