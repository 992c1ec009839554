"""`bias-judge data ...`: getting the input data.

    bias-judge data fetch-bbq --out DIR [--commit SHA]
    bias-judge data fetch-pairs --out DIR [--revision REV]
"""

from __future__ import annotations

import click

from bias_judge.data import fetch_bbq as fb
from bias_judge.stages.common import OutputPath, one_line_errors


@click.group(help="Get input data.")
def group() -> None:
    pass


@group.command("fetch-bbq", help="Download the 11 BBQ category files from GitHub "
               f"({fb.BBQ_REPO}, CC-BY-4.0) and verify each against its pinned git blob id "
               "(and SHA-256 where pinned).")
@click.option("--out", "out_dir", required=True, type=OutputPath(file_okay=False),
              help="Folder to write Age.jsonl ... Sexual_orientation.jsonl into; "
                   "then set data.bbq_dir in params.yaml to it.")
@click.option("--commit", default=fb.PINNED_COMMIT, show_default=True,
              help="Commit of the BBQ repository to download. The files are pinned for the "
                   "default only; other commits are downloaded unverified.")
@one_line_errors
def fetch_bbq(out_dir: str, commit: str) -> None:
    if commit != fb.PINNED_COMMIT:
        click.echo(f"WARNING: commit {commit} is not the pinned one: no file will be verified",
                   err=True)
    status = fb.fetch_bbq(out_dir, commit=commit)
    for name, state in status.items():
        line = f"{name}: {state}"
        click.echo(line if state == fb.VERIFIED else f"WARNING: {line}", err=True)
    unverified = sum(1 for s in status.values() if s != fb.VERIFIED)
    if unverified:
        click.echo(f"WARNING: {unverified} of {len(status)} files have no pin for commit "
                   f"{commit} and were NOT verified", err=True)
    click.echo(f"fetched {len(status)} BBQ files into {out_dir} (BBQ: Parrish et al., CC-BY-4.0)",
               err=True)


@group.command("fetch-pairs", help="Download the published judge pairs and the human-labelled "
               "holdout (Hugging Face dataset, Apache-2.0) and verify them against pinned SHA-256 "
               "checksums. Offline, point the holdout profile's paths at any local copy instead.")
@click.option("--out", "out_dir", required=True, type=OutputPath(file_okay=False),
              help="Folder for pairs.jsonl, pairs_to_label.jsonl and eval_holdout.jsonl (the "
                   "holdout profile reads data/judge-pairs).")
@click.option("--revision", default=None,
              help="Dataset revision (branch, tag or commit) to download; every file must still "
                   "match its pinned checksum.")
@one_line_errors
def fetch_pairs(out_dir: str, revision: str | None) -> None:
    from bias_judge.data import fetch_pairs as fp

    verified = fp.fetch_pairs(out_dir, revision=revision or fp.DEFAULT_REVISION)
    for name, digest in verified.items():
        click.echo(f"{name}: sha256 {digest[:12]}... verified", err=True)
    click.echo(f"fetched {len(verified)} files of {fp.DATASET_ID} into {out_dir}", err=True)
