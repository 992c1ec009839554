"""core.progress.engine_log: what engines write (Python, C level, child processes) goes to the
log, while the stage's notes and summary reach the terminal; a failure names the log."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from bias_judge.core.progress import log_path_for

SCRIPT = textwrap.dedent("""
    import logging, os, subprocess, sys
    from bias_judge.core.errors import InputError
    from bias_judge.core.progress import engine_log, note

    mode, log = sys.argv[1], sys.argv[2]
    try:
        with engine_log(log):
            if mode != "bad-input":
                print("INFO engine starting")
                logging.getLogger("vllm").warning("NUMA binding skipped")
                os.write(1, b"triton: C-level stdout\\n")
                os.write(2, b"C-level stderr\\n")
                subprocess.run([sys.executable, "-c", "import sys; print('child worker up', file=sys.stderr)"])
                note("evaluate x: engine loaded")
            if mode == "input-error":
                raise InputError("no verdict", file="eval.jsonl", line=3)
            if mode == "bad-input":
                raise InputError("bad row", file="rows.jsonl", line=1)
            if mode == "crash":
                raise RuntimeError("engine died")
    except InputError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        sys.exit(2)
    print("evaluate x: done", file=sys.stderr)
""")


def _run(tmp_path: Path, mode: str):
    log = tmp_path / "eval" / "x.log"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(log)], capture_output=True,
                          text=True, env={"BIAS_JUDGE_PROGRESS": "0", "PATH": ""}, cwd=tmp_path)
    return proc, log


def test_chatter_goes_to_the_log_and_the_terminal_keeps_notes_and_summary(tmp_path):
    proc, log = _run(tmp_path, "ok")
    assert proc.returncode == 0, proc.stderr
    terminal = (proc.stdout + proc.stderr).splitlines()
    assert terminal == ["evaluate x: engine loaded", "evaluate x: done"]
    text = log.read_text()
    for chatter in ("INFO engine starting", "NUMA binding skipped", "triton: C-level stdout",
                    "C-level stderr", "child worker up"):
        assert chatter in text


def test_a_failure_names_the_log(tmp_path):
    proc, log = _run(tmp_path, "input-error")
    assert proc.returncode == 2
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert error == [f"error: eval.jsonl:3: no verdict (engine output: {log})"]
    proc, log = _run(tmp_path, "crash")
    assert proc.returncode == 1 and "RuntimeError: engine died" in proc.stderr
    assert f"The engines' output is in {log}" in proc.stderr
    assert "child worker up" in log.read_text()


def test_bad_input_before_any_engine_output_leaves_no_log(tmp_path):
    proc, log = _run(tmp_path, "bad-input")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: rows.jsonl:1: bad row"
    assert not log.exists() and not log.parent.exists()


def test_the_log_sits_beside_the_main_output():
    assert log_path_for("eval/dpo") == Path("eval/dpo.log")
    assert log_path_for("data/candidates.jsonl") == Path("data/candidates.log")
    assert log_path_for("models/sft/") == Path("models/sft.log")
