"""What each dvc.yaml stage really depends on, derived from the code: the project files its
command imports (transitively, lazy imports inside functions included: the walk in
bias_judge.core.code, the same one the training checkpoints fingerprint) and the params keys
its stage module declares that it reads. tests/test_dvc_contract.py holds dvc.yaml to it."""

from __future__ import annotations

import shlex
from pathlib import Path

from bias_judge.core.code import code_files

REPO = Path(__file__).resolve().parents[1]


def stage_module(cmd: str) -> str:
    """The stage module a `bias-judge NAME ...` command runs."""
    from bias_judge.stages.cli import COMMANDS

    words = shlex.split(cmd)
    assert words[0] == "bias-judge", cmd
    return f"bias_judge.stages.{COMMANDS[words[1]][0]}"


def code_deps(cmd: str, outs: set[str]) -> set[str]:
    """Repository paths a stage command depends on through its code (its own outputs aside:
    the card stage writes below model_card/, whose template it reads)."""
    # The dispatcher (stages/cli.py) is left out: it only maps command names to modules, so a
    # new command must not make every stage stale.
    paths = {p.resolve().relative_to(REPO).as_posix()
             for p in code_files(stage_module(cmd)).values()}
    return paths - outs


def params_read(cmd: str) -> set[str]:
    """The params keys the stage module declares it reads (PARAMS)."""
    import importlib

    return set(importlib.import_module(stage_module(cmd)).PARAMS)
