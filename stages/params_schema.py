"""`bias-judge params-schema`: write schemas/params.schema.json from the settings models.

    bias-judge params-schema [--out schemas/params.schema.json] [--check]

`--check` writes nothing and exits 1 when the file differs from what the models give.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.stages.common import OutputPath, one_line_errors

DEFAULT = Path(__file__).resolve().parents[1] / "schemas" / "params.schema.json"


@click.command(help="Generate the params JSON Schema from the typed settings models.")
@click.option("--out", default=None, type=OutputPath(dir_okay=False),
              help="Default: the package's schemas/params.schema.json.")
@click.option("--check", is_flag=True, help="Only compare; exit 1 when the file is stale.")
@one_line_errors
def command(out: str | None, check: bool) -> None:
    from bias_judge.core.jsonio import atomic_open
    from bias_judge.tools.params_schema import schema_text

    path = Path(out) if out else DEFAULT
    text = schema_text()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            raise click.ClickException(f"{path} differs from the settings models: run "
                                       "`bias-judge params-schema`")
        click.echo(f"{path}: up to date", err=True)
        return
    with atomic_open(path) as fh:
        fh.write(text)
    click.echo(f"wrote {path}", err=True)
