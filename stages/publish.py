"""`bias-judge publish`: push a released checkpoint (merged weights) and its card, the
pipeline's data and its dataset card (`--dataset`), or the demo page of a checkpoint as a
Gradio Space (`--space`), to the Hub.

A dry run (the default) lists what would be sent and validates the card, without network or
token. The real upload refuses placeholder repo ids (on the command line or in the params'
`card.repo_ids`), reads the token from HF_TOKEN and never prints it.
"""

from __future__ import annotations

import contextlib
import sys

import click

from bias_judge.core.vocabulary import RELEASED
from bias_judge.data.prompt import PromptSettings
from bias_judge.evaluation.settings import EvalSettings
from bias_judge.stages.common import one_line_errors, params_option, read_settings

# The Space judges with the settings `bias-judge judge` takes from the same sections.
PARAMS = {"card.repo_ids": dict, "eval": EvalSettings, "prompt": PromptSettings}


@click.command("publish")
@click.option("--repo", "repo_id", required=True, help="Hub repo id, owner/name.")
@click.option("--checkpoint", type=click.Choice(RELEASED), default=None,
              help="Which released checkpoint to publish (with --space: the one the Space "
                   "loads, from card.repo_ids; default dpo).")
@click.option("--dataset", "dataset", is_flag=True,
              help="Publish the data (pairs, eval split, labels, SFT/DPO rows) with the dataset "
                   "card instead of a checkpoint.")
@click.option("--space", "space", is_flag=True,
              help="Publish the demo page (`bias-judge demo`) as a Gradio Space that loads the "
                   "checkpoint's published repo (card.repo_ids).")
@click.option("--space-repo", default=None,
              help="With --checkpoint: also publish the demo page as a Space in this repo "
                   "(owner/name), after the model, so one dry run lists the model, its GGUF "
                   "and the Space.")
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
def command(repo_id, checkpoint, dataset, space, space_repo, models_dir, data_dir, card_dir,
            with_gguf, dry_run, private, params_path):
    """Upload a merged checkpoint (with its GGUF export) and its model card, the data and its
    dataset card, or the demo page as a Space, to the Hugging Face Hub."""
    from pathlib import Path

    from bias_judge.publish.upload import plan_dataset_upload, plan_upload, refuse_placeholders

    if space_repo is not None and (space or dataset or checkpoint is None):
        raise click.UsageError("--space-repo goes with --checkpoint (use --space alone to "
                               "publish only the Space)")
    if space:
        if dataset:
            raise click.UsageError("give one of --space and --dataset")
        return _space(repo_id, checkpoint or "dpo", dry_run, private, params_path, models_dir)
    if dataset == (checkpoint is not None):
        raise click.UsageError("give exactly one of --checkpoint and --dataset")
    what = "dataset" if dataset else checkpoint
    if not dry_run:
        repo_ids = read_settings(params_path, PARAMS)["card.repo_ids"]
        refuse_placeholders(repo_id, repo_ids, what, params_file=params_path)
        if space_repo is not None:
            # Checked before anything is sent, so a refused Space never follows a sent model.
            refuse_placeholders(space_repo, repo_ids, checkpoint, params_file=params_path)
    with _refusals(dry_run):
        if dataset:
            plan = plan_dataset_upload(repo_id, data_dir, Path(card_dir) / "dataset" / "README.md")
        else:
            gguf_dir = Path(models_dir) / checkpoint / "gguf"
            plan = plan_upload(repo_id, checkpoint, Path(models_dir) / checkpoint / "merged",
                               Path(card_dir) / checkpoint / "README.md",
                               gguf_dir if with_gguf and gguf_dir.is_dir() else None)
    _send(plan, dry_run, private)
    if space_repo is not None:
        click.echo("")
        _space(space_repo, checkpoint, dry_run, private, params_path, models_dir)


@contextlib.contextmanager
def _refusals(dry_run):
    """The plan runs every check the real upload runs; in a dry run what fails is reported
    as what the upload would refuse."""
    from bias_judge.publish.upload import would_refuse
    from bias_judge.core.errors import InputError

    try:
        yield
    except InputError as exc:
        if not dry_run:
            raise
        raise would_refuse(exc) from None


def _send(plan, dry_run, private):
    from bias_judge.publish.upload import PublishError, describe, upload

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


def _space(repo_id, checkpoint, dry_run, private, params_path, models_dir):
    """The Space is rendered into a temporary folder and sent from there. Its settings are
    what `bias-judge judge` would use on MODELS_DIR/<checkpoint>/merged (params, or the
    folder's bias_judge.json where there is one); the Space applies the downloaded folder's
    bias_judge.json again when it starts."""
    import tempfile

    from bias_judge.publish.upload import refuse_placeholders
    from bias_judge.demo.space import plan_space_upload
    from pathlib import Path

    from bias_judge.evaluation.judge import settings_for_model

    p = read_settings(params_path, PARAMS)
    if not dry_run:
        refuse_placeholders(repo_id, p["card.repo_ids"], checkpoint, params_file=params_path)
    s: EvalSettings = p["eval"]
    settings, warnings = settings_for_model(Path(models_dir) / checkpoint / "merged", s,
                                            p["prompt"].style, swap_check=True, samples=0)
    for warning in warnings:
        click.echo(f"warning: publish: {warning}", err=True)
    with tempfile.TemporaryDirectory(prefix="bias-judge-space-") as out:
        with _refusals(dry_run):
            plan = plan_space_upload(repo_id, out, checkpoint=checkpoint,
                                     repo_ids=p["card.repo_ids"], settings=settings,
                                     dtype=s.dtype, max_model_len=s.max_model_len)
        _send(plan, dry_run, private)
