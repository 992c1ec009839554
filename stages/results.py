"""`bias-judge results`: record the DVC experiments and render docs/results.md from them.

    bias-judge results record [--out docs/experiments.json]
    bias-judge results render [--record docs/experiments.json] [--out docs/results.md]

`record` asks DVC (`dvc exp show --json`) for every experiment and git for each experiment
commit's dvc.lock, and writes the record the page is generated from; `render` needs nothing
but that record, so the page regenerates byte for byte on any clone.
"""

from __future__ import annotations

import json
import subprocess

import click

from bias_judge.stages.common import OutputPath, one_line_errors

RECORD = "docs/experiments.json"
PAGE = "docs/results.md"
SET_NAME = "holdout"


def _run(args: list[str]) -> str:
    from bias_judge.core.errors import InputError

    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(f"{' '.join(args[:3])} failed: {tail[:300]}")
    return proc.stdout


def _show(rev: str, path: str) -> str | None:
    """A file at a commit, or None where that commit has no such file."""
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


@click.group("results", help="The experiment record and the results page generated from it.")
def group() -> None:
    pass


@group.command("record", help="Write every DVC experiment (dvc exp show --json) with its "
                              "dvc.lock hashes to the record file.")
@click.option("--out", default=RECORD, show_default=True, type=OutputPath(dir_okay=False))
@one_line_errors
def record(out: str) -> None:
    import yaml

    from bias_judge.stages import experiments as results
    from bias_judge.core.jsonio import write_json

    shown = json.loads(_run(["dvc", "exp", "show", "--json", "--all-commits"]) or "[]")
    locks, details = {}, {}
    for baseline in shown:
        for group_ in baseline.get("experiments") or []:
            for run in group_.get("revs") or []:
                rev = run.get("rev")
                if results.is_commit(rev):  # a running experiment shows "workspace"
                    locks[rev] = yaml.safe_load(_run(["git", "show", f"{rev}:dvc.lock"]))
                    details[rev] = {path: json.loads(text) for path in results.DETAIL_FILES
                                    if (text := _show(rev, path)) is not None}
    experiments = results.from_exp_show(shown, locks, details)
    write_json(out, results.to_record(experiments))
    click.echo(f"recorded {len(experiments)} experiments -> {out}", err=True)


@group.command("render", help="Render the results page from the record (no DVC needed).")
@click.option("--record", "record_path", default=RECORD, show_default=True,
              type=click.Path(dir_okay=False))
@click.option("--out", default=PAGE, show_default=True, type=OutputPath(dir_okay=False))
@click.option("--set", "set_name", default=SET_NAME, show_default=True,
              help="Eval set whose metrics the tables show.")
@one_line_errors
def render(record_path: str, out: str, set_name: str) -> None:
    from bias_judge.stages import experiments as results
    from bias_judge.core.jsonio import atomic_open, read_json

    experiments = results.from_record(read_json(record_path))
    page = results.render(experiments, set_name=set_name,
                          command=f"bias-judge results render --record {record_path}")
    with atomic_open(out) as fh:
        fh.write(page)
    click.echo(f"rendered {len(experiments)} experiments -> {out}", err=True)
