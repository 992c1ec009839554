"""`bias-judge publish`: push a released checkpoint (merged weights) and its card, or the
pipeline's data and its dataset card (`--dataset`), to the Hub.

A dry run (the default) lists what would be sent and validates the card, without network or
token. The real upload refuses placeholder repo ids (on the command line or in the params'
`card.repo_ids`), reads the token from HF_TOKEN and never prints it.
"""

from __future__ import annotations

import sys

import click

from bias_judge.core.vocabulary import RELEASED
from bias_judge.stages.common import one_line_errors, params_option, read_settings

PARAMS = {"card.repo_ids": dict}


@click.command("publish")
@click.option("--repo", "repo_id", required=True, help="Hub repo id, owner/name.")
@click.option("--checkpoint", type=click.Choice(RELEASED), default=None,
              help="Which released checkpoint to publish.")
@click.option("--dataset", "dataset", is_flag=True,
              help="Publish the data (pairs, eval split, labels, SFT/DPO rows) with the dataset "
                   "card instead of a checkpoint.")
@click.option("--models-dir", default="models", show_default=True, type=click.Path(file_okay=False),
              help="The merged weights are read from MODELS_DIR/<checkpoint>/merged, the GGUF "
                   "export (if any) from MODELS_DIR/<checkpoint>/gguf.")
@click.option("--gguf/--no-gguf", "with_gguf", default=True, show_default=True,
              help="Also upload the export stage's GGUF files, Modelfile and README into the "
                   "repo's gguf/ folder (when MODELS_DIR/<checkpoint>/gguf exists).")
@click.option("--data-dir", default="data", show_default=True, type=click.Path(file_okay=False),
              help="--dataset: the data files are read from DATA_DIR.")
@click.option("--card-dir", default="model_card", show_default=True,
              type=click.Path(file_okay=False),
              help="The card is read from CARD_DIR/<checkpoint or dataset>/README.md.")
@click.option("--dry-run/--no-dry-run", default=True, show_default=True,
              help="List what would be uploaded without sending anything.")
@click.option("--private", is_flag=True, help="Create the repo as private (if it does not exist).")
@params_option
@one_line_errors
def command(repo_id, checkpoint, dataset, models_dir, data_dir, card_dir, with_gguf, dry_run,
            private, params_path):
    """Upload a merged checkpoint and its model card, or the data and its dataset card, to
    the Hugging Face Hub."""
    from pathlib import Path

    from bias_judge.card.publish import (PublishError, describe, plan_dataset_upload,
                                         plan_upload, refuse_placeholders, upload)

    if dataset == (checkpoint is not None):
        raise click.UsageError("give exactly one of --checkpoint and --dataset")
    what = "dataset" if dataset else checkpoint
    if not dry_run:
        refuse_placeholders(repo_id, read_settings(params_path, PARAMS)["card.repo_ids"], what,
                            params_file=params_path)
    if dataset:
        plan = plan_dataset_upload(repo_id, data_dir, Path(card_dir) / "dataset" / "README.md")
    else:
        gguf_dir = Path(models_dir) / checkpoint / "gguf"
        plan = plan_upload(repo_id, checkpoint, Path(models_dir) / checkpoint / "merged",
                           Path(card_dir) / checkpoint / "README.md",
                           gguf_dir if with_gguf and gguf_dir.is_dir() else None)
    for line in describe(plan, dry_run=dry_run):
        click.echo(line)
    if dry_run:
        return
    try:
        url = upload(plan, private=private)
    except PublishError as exc:
        click.echo(f"error: upload failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"published: {url}")
