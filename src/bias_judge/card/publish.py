"""Publishing a merged checkpoint with its card to the Hugging Face Hub.

The token is read from the environment (HF_TOKEN) at upload time and handed straight to
huggingface_hub; it is never printed, logged or written, and any error text that might quote
it is redacted before it leaves this module. A dry run needs no token and no network.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.models.folder import check_model_folder
from bias_judge.card.validate import validate_card_file

TOKEN_ENV = "HF_TOKEN"


class PublishError(Exception):
    """The Hub refused or failed the upload; the message is already redacted."""


@dataclass(frozen=True)
class UploadFile:
    path_in_repo: str
    size: int


@dataclass(frozen=True)
class UploadPlan:
    repo_id: str
    checkpoint: str
    folder: Path
    card: Path
    card_metrics: int
    files: tuple[UploadFile, ...]
    warnings: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def plan_upload(repo_id: str, checkpoint: str, folder: str | os.PathLike,
                card: str | os.PathLike) -> UploadPlan:
    """What an upload would send: the folder's files (its own README.md replaced by the
    card) and the validated card. Raises InputError for anything unfit to publish."""
    folder, card = Path(folder), Path(card)
    if "/" not in repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise InputError(f"repo id must look like 'owner/name', got '{repo_id}'", field="repo")
    check_model_folder(folder)
    n_metrics = validate_card_file(card)
    files = [UploadFile(p.relative_to(folder).as_posix(), p.stat().st_size)
             for p in sorted(folder.rglob("*")) if p.is_file()
             and p.relative_to(folder).as_posix() != "README.md"]
    files.append(UploadFile("README.md", card.stat().st_size))
    files.sort(key=lambda f: f.path_in_repo)
    warnings = []
    if repo_id not in card.read_text(encoding="utf-8"):
        warnings.append(f"the card's quick start does not mention '{repo_id}'; set card.repo_ids "
                        f"in params.yaml and re-render so its snippets load this repo")
    return UploadPlan(repo_id, checkpoint, folder, card, n_metrics, tuple(files), tuple(warnings))


def describe(plan: UploadPlan, *, dry_run: bool) -> list[str]:
    head = "dry run, nothing sent" if dry_run else "uploading"
    lines = [f"{head}: {plan.checkpoint} checkpoint -> https://huggingface.co/{plan.repo_id}",
             f"card: {plan.card} (validated, {plan.card_metrics} model-index metrics) -> README.md",
             f"files from {plan.folder}:"]
    width = max(len(f.path_in_repo) for f in plan.files)
    lines += [f"  {f.path_in_repo.ljust(width)}  {human_size(f.size):>10}" for f in plan.files]
    lines.append(f"total: {len(plan.files)} files, {human_size(plan.total_bytes)}")
    lines.append(f"token: {TOKEN_ENV} is {'set' if os.environ.get(TOKEN_ENV) else 'not set'}")
    lines += [f"warning: {w}" for w in plan.warnings]
    return lines


def _redact(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def upload(plan: UploadPlan, *, private: bool = False, api=None) -> str:
    """Create the repo if needed and push the folder and card in one commit; returns the
    commit URL. The token comes from HF_TOKEN only."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise InputError(f"{TOKEN_ENV} is not set in the environment; a real upload needs it "
                         f"(a dry run does not)", field=TOKEN_ENV)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    # Stage the upload as links to the checkpoint files plus a copy of the card, so one
    # upload_folder call makes one commit without copying the weights.
    with tempfile.TemporaryDirectory(prefix="bias-judge-publish-") as stage:
        stage_path = Path(stage)
        for f in plan.files:
            target = stage_path / f.path_in_repo
            target.parent.mkdir(parents=True, exist_ok=True)
            if f.path_in_repo == "README.md":
                shutil.copyfile(plan.card, target)
            else:
                os.symlink((plan.folder / f.path_in_repo).resolve(), target)
        try:
            api.create_repo(plan.repo_id, repo_type="model", private=private, exist_ok=True,
                            token=token)
            info = api.upload_folder(
                repo_id=plan.repo_id, repo_type="model", folder_path=str(stage_path),
                commit_message=f"Upload the {plan.checkpoint} checkpoint and its model card",
                token=token)
        except Exception as exc:  # any Hub failure: report it without the token
            raise PublishError(_redact(f"{type(exc).__name__}: {exc}", token)) from None
    url = getattr(info, "commit_url", None) or f"https://huggingface.co/{plan.repo_id}"
    return _redact(str(url), token)
