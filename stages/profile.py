"""`bias-judge profile`: switch params.yaml between the cpu, gpu and smoke profiles.

    bias-judge profile use gpu [--params params.yaml]   # merge profiles/gpu.yaml onto params.yaml
    bias-judge profile show [--params params.yaml]      # which profile params.yaml matches
    bias-judge profile list

A profile is a YAML file of params values (profiles/NAME.yaml); `use` deep-merges it onto
params.yaml, keeping comments, validates the result and only then writes. Every value stays a
tracked param, so the next `dvc repro` reruns exactly the stages whose params changed.
Profiles: cpu (the committed default), gpu (the published recipe), smoke (tiny model, CI).
"""

from __future__ import annotations

import click

from bias_judge.stages.common import one_line_errors

profiles_dir_option = click.option(
    "--profiles-dir", default="profiles", show_default=True, type=click.Path(file_okay=False),
    help="folder of NAME.yaml profiles")
params_path_option = click.option(
    "--params", "params_path", default="params.yaml", show_default=True,
    type=click.Path(dir_okay=False), help="params file to edit")


@click.group(help="Switch params.yaml between the cpu, gpu and smoke profiles "
                  "(profiles/NAME.yaml), keeping every value a tracked param.")
def command():
    pass


@command.command("use", help="Merge profiles/NAME.yaml onto params.yaml (validated first).")
@click.argument("name")
@params_path_option
@profiles_dir_option
@one_line_errors
def use(name, params_path, profiles_dir):
    from bias_judge.tools.profiles import apply_profile
    changed = apply_profile(name, params_path, profiles_dir)
    if changed:
        click.echo(f"profile {name}: {len(changed)} params changed in {params_path}: "
                   + ", ".join(changed))
    else:
        click.echo(f"profile {name}: {params_path} already matches")


@command.command("show", help="Print the profile(s) that params.yaml matches.")
@params_path_option
@profiles_dir_option
@one_line_errors
def show(params_path, profiles_dir):
    from bias_judge.tools.profiles import matching
    found = matching(params_path, profiles_dir)
    click.echo(", ".join(found) if found else "custom (matches no profile)")


@command.command("list", help="List the available profiles.")
@profiles_dir_option
def list_(profiles_dir):
    from bias_judge.tools.profiles import available
    for name in available(profiles_dir):
        click.echo(name)
