"""Publishing a merged checkpoint with its card, or the pipeline's data with its dataset
card, to the Hugging Face Hub.

The token is read from the environment (HF_TOKEN) at upload time and handed straight to
huggingface_hub; it is never printed, logged or written, and any error text that might quote
it is redacted before it leaves this module. A dry run needs no token and no network. A real
upload refuses a placeholder repo id (`your-hf-name/...`) before anything else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.models.folder import check_model_folder
from bias_judge.card.sections import is_placeholder
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
    repo_type: str = "model"     # model | dataset

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


def refuse_placeholders(repo_id: str, repo_ids: dict[str, str], what: str, *,
                        params_file: str | None = None) -> None:
    """A real upload goes to a real repo, and its card names that repo: neither `--repo` nor
    the params' `card.repo_ids.<what>` the card was rendered from may be a placeholder."""
    if is_placeholder(repo_id):
        raise InputError(f"'{repo_id}' is a placeholder repo id; pass the repo to publish to",
                         field="--repo")
    configured = repo_ids.get(what, "")
    if is_placeholder(configured):
        raise InputError(f"'{configured}' is a placeholder: set it to '{repo_id}' and re-render "
                         f"the cards (dvc repro card) so they link to and load that repo",
                         file=params_file, field=f"card.repo_ids.{what}")


def plan_dataset_upload(repo_id: str, data_dir: str | os.PathLike,
                        card: str | os.PathLike) -> UploadPlan:
    """What `publish --dataset` would send: the data files of the dataset card's configs
    (read from `data_dir`) and the validated dataset card as README.md."""
    from bias_judge.card.dataset import FILES
    from bias_judge.card.validate import validate_dataset_card_file

    data_dir, card = Path(data_dir), Path(card)
    if "/" not in repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise InputError(f"repo id must look like 'owner/name', got '{repo_id}'", field="repo")
    n_configs = validate_dataset_card_file(card)
    files = []
    for f in FILES:
        path = data_dir / f.path
        if not path.is_file():
            raise InputError("data file not found (run the pipeline, or `dvc pull`)", file=str(path))
        files.append(UploadFile(f.path, path.stat().st_size))
    files.append(UploadFile("README.md", card.stat().st_size))
    warnings = []
    if repo_id not in card.read_text(encoding="utf-8"):
        warnings.append(f"the dataset card does not mention '{repo_id}'; set card.repo_ids.dataset "
                        f"in params.yaml and re-render so its loading snippet names this repo")
    return UploadPlan(repo_id, "dataset", data_dir, card, n_configs, tuple(files),
                      tuple(warnings), repo_type="dataset")


def repo_url(plan: UploadPlan) -> str:
    prefix = "datasets/" if plan.repo_type == "dataset" else ""
    return f"https://huggingface.co/{prefix}{plan.repo_id}"


def describe(plan: UploadPlan, *, dry_run: bool) -> list[str]:
    head = "dry run, nothing sent" if dry_run else "uploading"
    if plan.repo_type == "dataset":
        what, checked = "the pipeline's data", f"{plan.card_metrics} configs"
    else:
        what, checked = f"{plan.checkpoint} checkpoint", f"{plan.card_metrics} model-index metrics"
    lines = [f"{head}: {what} -> {repo_url(plan)}",
             f"card: {plan.card} (validated, {checked}) -> README.md",
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
            api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=private,
                            exist_ok=True, token=token)
            message = ("Upload the pipeline's data and its dataset card" if plan.repo_type == "dataset"
                       else f"Upload the {plan.checkpoint} checkpoint and its model card")
            info = api.upload_folder(
                repo_id=plan.repo_id, repo_type=plan.repo_type, folder_path=str(stage_path),
                commit_message=message, token=token)
        except Exception as exc:  # any Hub failure: report it without the token
            raise PublishError(_redact(f"{type(exc).__name__}: {exc}", token)) from None
    url = getattr(info, "commit_url", None) or repo_url(plan)
    return _redact(str(url), token)
