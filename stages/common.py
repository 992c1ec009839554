"""What every stage entry shares: params loading, the one-line error, quiet progress."""

from __future__ import annotations

import functools
import sys

import click

from bias_judge.core.errors import InputError
from bias_judge.core.params import load_params

params_option = click.option(
    "--params", "params_path", default=None, type=click.Path(dir_okay=False),
    help="params.yaml to read this stage's section from (validated whole before the stage "
         "runs). Without it the stage uses the published defaults.")


def stage_params(params_path: str | None, section: str) -> dict | None:
    """The stage's params section, or None when no params file was given."""
    if params_path is None:
        return None
    return load_params(params_path)[section]


def one_line_errors(fn):
    """Turn InputError into `error: <file>:<line>: field '<f>': <msg>` and exit code 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            click.echo(f"error: {exc.one_line()}", err=True)
            sys.exit(2)
    return wrapper
