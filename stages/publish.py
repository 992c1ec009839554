"""`bias-judge publish`: push a released checkpoint (merged weights) and its card to the Hub.

A dry run (the default) lists what would be sent and validates the card, without network or
token. The real upload reads the token from HF_TOKEN and never prints it.
"""

from __future__ import annotations

import sys

import click

from bias_judge.core.vocabulary import RELEASED
from bias_judge.stages.common import one_line_errors


@click.command("publish")
@click.option("--repo", "repo_id", required=True, help="Hub repo id, owner/name.")
@click.option("--checkpoint", type=click.Choice(RELEASED), required=True,
              help="Which released checkpoint to publish.")
@click.option("--models-dir", default="models", show_default=True, type=click.Path(file_okay=False),
              help="The merged weights are read from MODELS_DIR/<checkpoint>/merged.")
@click.option("--card-dir", default="model_card", show_default=True,
              type=click.Path(file_okay=False),
              help="The card is read from CARD_DIR/<checkpoint>/README.md.")
@click.option("--dry-run/--no-dry-run", default=True, show_default=True,
              help="List what would be uploaded without sending anything.")
@click.option("--private", is_flag=True, help="Create the repo as private (if it does not exist).")
@one_line_errors
def command(repo_id, checkpoint, models_dir, card_dir, dry_run, private):
    """Upload the merged checkpoint folder and its model card to the Hugging Face Hub."""
    from pathlib import Path

    from bias_judge.card.publish import PublishError, describe, plan_upload, upload

    plan = plan_upload(repo_id, checkpoint, Path(models_dir) / checkpoint / "merged",
                       Path(card_dir) / checkpoint / "README.md")
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
