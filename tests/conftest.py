"""Fixtures shared by the test files. Keep this small: a fixture used by one file lives there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EMBEDDED_BBQ = REPO / "src" / "bias_judge" / "embedded" / "bbq"

os.environ.setdefault("BIAS_JUDGE_PROGRESS", "0")


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (read-only real data); skips the test where it is absent."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip("shared data not present")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny random model folder (models/tiny.py), written once per test session; tests
    read it and never change it."""
    from bias_judge.models.materialize import materialize

    path = tmp_path_factory.mktemp("tiny") / "tiny"
    materialize("tiny", path)
    return path


@pytest.fixture
def embedded_bbq() -> Path:
    return EMBEDDED_BBQ


@pytest.fixture
def cli():
    """Run `bias-judge ARGS...` in-process -> click Result (.exit_code, .stdout, .stderr, .output)."""
    from bias_judge.stages.cli import main

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run
