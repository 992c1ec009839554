"""`bias-judge card`: render the model cards (the DVC `card` stage) and validate a card.

`render` reads the `card` and `prompt` sections plus the values of `split`, `label` and
`eval` the card quotes (PARAMS); the numbers come only from the metrics files and data
sidecars. `validate` reads no params.
"""

from __future__ import annotations

import click

from bias_judge.card.render import CardSettings
from bias_judge.data.prompt import PromptSettings
from bias_judge.stages.common import one_line_errors, params_option, read_settings

PARAMS = {"card": CardSettings, "prompt": PromptSettings, "split.ood_category": str,
          "label.labeler": str, "eval.max_new_tokens": int, "eval.max_model_len": int,
          "eval.guided": bool}


@click.group("card")
def group():
    """Render and check the model cards."""


@group.command("render")
@click.option("--metrics-dir", default="metrics", show_default=True, type=click.Path(file_okay=False),
              help="Folder with eval_{base,sft,dpo}.json, train_{sft,dpo}.json, base_model.json "
                   "and (optional) gold_quality.json.")
@click.option("--data-dir", default="data", show_default=True, type=click.Path(file_okay=False),
              help="Folder with pairs.meta.json, split/split.meta.json and rows/rows.meta.json "
                   "(all optional).")
@click.option("--out-dir", default="model_card", show_default=True, type=click.Path(file_okay=False),
              help="Cards go to OUT_DIR/dpo/README.md and OUT_DIR/sft/README.md.")
@click.option("--template", default=None, type=click.Path(dir_okay=False),
              help="Jinja template (default: the packaged model_card/card.md.j2).")
@params_option
@one_line_errors
def render(metrics_dir, data_dir, out_dir, template, params_path):
    """Render one card per released checkpoint from the pipeline's metrics."""
    from bias_judge.card.inputs import load_inputs
    from bias_judge.card.render import Context, render_cards

    p = read_settings(params_path, PARAMS)
    ctx = Context(ood_category=p["split.ood_category"], labeler=p["label.labeler"],
                  max_new_tokens=p["eval.max_new_tokens"], max_model_len=p["eval.max_model_len"],
                  prompt_style=p["prompt"].style, guided=p["eval.guided"])
    settings = p["card"]
    inputs = load_inputs(metrics_dir, data_dir)
    for path in render_cards(inputs, settings, ctx, out_dir, template=template,
                             metrics_dir=metrics_dir, data_dir=data_dir):
        click.echo(f"wrote {path}")


@group.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@one_line_errors
def validate(paths):
    """Check the YAML front matter of one or more cards, offline."""
    from bias_judge.card.validate import validate_card_file

    for path in paths:
        n = validate_card_file(path)
        click.echo(f"ok {path}: {n} model-index metrics")

