"""What every stage entry shares: the --params option, the one writer of a stage's result,
and the one-line error."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from bias_judge.core.artifacts import StageResult, write_result
from bias_judge.core.errors import InputError
from bias_judge.core.settings import read_settings

__all__ = ["OutputPath", "emit", "one_line_errors", "params_option", "read_settings",
           "training_options"]


class OutputPath(click.Path):
    """A path the command writes. Every other path option is one of its inputs; before the
    command runs (`one_line_errors`) no output may be an input, and every output must be
    writable (core/outputs.py). For a folder, `writes` names the files written in it when
    the command does not own the whole folder."""

    def __init__(self, *, writes: tuple[str, ...] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.writes = writes


def _path_args(ctx: click.Context):
    from bias_judge.core.outputs import PathArg

    inputs, outputs = [], []
    for param in ctx.command.params:
        if not isinstance(param.type, click.Path):
            continue
        value = ctx.params.get(param.name)
        values = value if isinstance(value, (tuple, list)) else (value,)
        name = param.opts[0] if param.opts and param.opts[0].startswith("-") \
            else param.human_readable_name
        for v in values:
            if v is None or v == "":
                continue
            folder = param.type.file_okay is False
            if isinstance(param.type, OutputPath):
                outputs.append(PathArg(name, Path(v), folder, param.type.writes))
            else:
                inputs.append(PathArg(name, Path(v), folder))
    return inputs, outputs

params_option = click.option(
    "--params", "params_path", default="params.yaml", show_default=True,
    type=click.Path(dir_okay=False),
    help="params file to read this stage's settings from (validated whole before the stage "
         "runs). There is no fallback recipe: a missing file is an error.")


def training_options(stage: str):
    """The options the sft and dpo stages share: base model, rows and their three outputs."""
    options = [
        click.option("--model", "model_dir", default="models/base", show_default=True,
                     type=click.Path(file_okay=False), help="base model folder (base_model stage)"),
        click.option("--rows", default=f"data/rows/{stage}.jsonl", show_default=True,
                     type=click.Path(dir_okay=False), help=f"{stage.upper()} rows ({stage}_row schema)"),
        click.option("--out-dir", default=f"models/{stage}", show_default=True,
                     type=OutputPath(file_okay=False),
                     help="adapter/, merged/ and checkpoints/ are written below it"),
        click.option("--metrics", "metrics_path", default=f"metrics/train_{stage}.json",
                     show_default=True, type=OutputPath(dir_okay=False),
                     help="training summary (train_summary schema)"),
        click.option("--live-dir", default=f"dvclive/{stage}", show_default=True,
                     type=OutputPath(file_okay=False),
                     help="dvclive folder for the per-step curves and their summary"),
    ]

    def decorate(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn
    return decorate


def emit(stage: str, result: StageResult) -> None:
    """Print the warnings, write the outputs and their sidecars, then the one-line summary."""
    for warning in result.warnings:
        click.echo(f"warning: {stage}: {warning}", err=True)
    write_result(result)
    click.echo(f"{stage}: {result.summary}", err=True)


def one_line_errors(fn):
    """Check the command's outputs before any work (`OutputPath`), and turn InputError into
    `error: <file>:<line>: field '<f>': <msg>` and exit code 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            ctx = click.get_current_context(silent=True)
            if ctx is not None:
                from bias_judge.core.outputs import check_outputs

                check_outputs(*_path_args(ctx))
            return fn(*args, **kwargs)
        except InputError as exc:
            click.echo(f"error: {exc.one_line()}", err=True)
            sys.exit(2)
    return wrapper
