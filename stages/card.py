"""`bias-judge card`: render the model cards (the DVC `card` stage) and validate a card.

`render` reads the `card` and `prompt` sections plus the values of `split`, `label`, `eval`,
`pairs` and `candidates` the cards quote (PARAMS); the numbers come only from the metrics
files and data sidecars. It writes both model cards, the dataset card, the metrics summary
(the one file `dvc metrics` reads) and the confusion view's data. `validate` reads no params.
"""

from __future__ import annotations

import click

from bias_judge.card.render import CARD_FILES, CardSettings
from bias_judge.data.prompt import PromptSettings
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"card": CardSettings, "prompt": PromptSettings, "split.ood_category": str,
          "label.labeler": str, "eval.max_new_tokens": int, "eval.max_model_len": int,
          "eval.guided": bool, "pairs.source": str, "pairs.import_file": str | None,
          "candidates.generator": str, "candidates.llm.models": list}


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
@click.option("--out-dir", default="model_card", show_default=True,
              type=OutputPath(file_okay=False, writes=CARD_FILES),
              help="Cards go to OUT_DIR/{dpo,sft,dataset}/README.md.")
@click.option("--summary", "summary_path", default="metrics/summary.json", show_default=True,
              type=OutputPath(dir_okay=False),
              help="The headline metrics per checkpoint (the file `dvc metrics` reads).")
@click.option("--plots-dir", default="plots/confusion", show_default=True,
              type=OutputPath(file_okay=False),
              help="Confusion records of the primary eval set, PLOTS_DIR/<checkpoint>.json.")
@click.option("--trust-plots-dir", default="plots/trust", show_default=True,
              type=OutputPath(file_okay=False),
              help="Reliability and coverage-agreement data of the primary eval set, "
                   "TRUST_PLOTS_DIR/{reliability,coverage}_<checkpoint>.json (docs/trust.md).")
@click.option("--template", default=None, type=click.Path(dir_okay=False),
              help="Jinja template (default: the packaged model_card/card.md.j2).")
@params_option
@one_line_errors
def render(metrics_dir, data_dir, out_dir, summary_path, plots_dir, trust_plots_dir, template,
           params_path):
    """Render the model cards, the dataset card and the metrics summary from the pipeline's
    metrics and data sidecars."""
    from bias_judge.card.inputs import load_inputs
    from bias_judge.card.provenance import DataContext
    from bias_judge.card.render import Context, render_report

    p = read_settings(params_path, PARAMS)
    data = DataContext(pairs_source=p["pairs.source"], pairs_import_file=p["pairs.import_file"],
                       generator=p["candidates.generator"],
                       generator_models=tuple(p["candidates.llm.models"]))
    ctx = Context(ood_category=p["split.ood_category"], labeler=p["label.labeler"],
                  max_new_tokens=p["eval.max_new_tokens"], max_model_len=p["eval.max_model_len"],
                  prompt_style=p["prompt"].style, guided=p["eval.guided"], data=data)
    inputs = load_inputs(metrics_dir, data_dir)
    emit("card", render_report(inputs, p["card"], ctx, out_dir, summary_path, plots_dir,
                               template=template, metrics_dir=metrics_dir, data_dir=data_dir,
                               trust_plots_dir=trust_plots_dir))


@group.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@one_line_errors
def validate(paths):
    """Check the YAML front matter of one or more model or dataset cards, offline."""
    from pathlib import Path

    from bias_judge.card.validate import (is_dataset_card, validate_card_file,
                                          validate_dataset_card_file)

    for path in paths:
        if Path(path).is_file() and is_dataset_card(Path(path).read_text(encoding="utf-8")):
            click.echo(f"ok {path}: dataset card, {validate_dataset_card_file(path)} configs")
        else:
            click.echo(f"ok {path}: {validate_card_file(path)} model-index metrics")

