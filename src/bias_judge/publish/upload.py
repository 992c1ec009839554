"""Publishing a merged checkpoint with its card, or the pipeline's data with its dataset
card, to the Hugging Face Hub.

The token is read from the environment (HF_TOKEN) at upload time and handed straight to
huggingface_hub; it is never printed, logged or written, and any error text that might quote
it is redacted before it leaves this module. A dry run needs no token and no network. A real
upload refuses a placeholder repo id (`your-hf-name/...`) before anything else.
"""

from __future__ import annotations

import functools
import json
import os
import re
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
    source: Path | None = None   # where it is read from, when not FOLDER/path_in_repo


@dataclass(frozen=True)
class UploadPlan:
    repo_id: str
    checkpoint: str
    folder: Path
    card: Path
    card_metrics: int
    files: tuple[UploadFile, ...]
    warnings: tuple[str, ...]
    repo_type: str = "model"     # model | dataset | space

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


# What a published model repo holds besides the card: safetensors weights, configs, the
# tokenizer and chat template, and bias_judge.json (how the judge must be queried: without it
# a downloaded checkpoint is prompted by guesswork). Anything else in the folder (hidden files such as .env,
# pickled .bin weights, training leftovers) is left out and named in the plan.
WEIGHTS = re.compile(r"^model(-\d{5}-of-\d{5})?\.safetensors$")
ALLOWED = {
    "config.json": "json", "generation_config.json": "json",
    "model.safetensors.index.json": "json", "tokenizer.json": "json",
    "tokenizer_config.json": "json", "special_tokens_map.json": "json",
    "added_tokens.json": "json", "vocab.json": "json", "chat_template.json": "json",
    "processor_config.json": "json", "preprocessor_config.json": "json",
    "chat_template.jinja": "text", "merges.txt": "text", "tokenizer.model": "sentencepiece",
    "bias_judge.json": "json",
}


def check_repo_id(repo_id: str) -> None:
    """owner/name, as the Hub's own validator accepts it (no '..', no path tricks)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise InputError(f"not a valid Hub repo id ({exc})", field="repo") from None
    if repo_id.count("/") != 1:
        raise InputError(f"repo id must look like 'owner/name', got '{repo_id}'", field="repo")


def kind_of(name: str) -> str | None:
    """What an upload-worthy file of this name is ("safetensors", "json", ...), or None."""
    return "safetensors" if WEIGHTS.match(name) else ALLOWED.get(name)


def check_content(path: Path, kind: str) -> None:
    """The file is what its name claims: safetensors with a readable header, JSON, UTF-8
    text, a SentencePiece protobuf (never a pickle)."""
    def bad(why: str) -> InputError:
        return InputError(f"not a {kind} file ({why}); refusing to publish it", file=str(path))

    if kind == "safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as fh:
                fh.keys()
        except Exception as exc:  # the reader raises its own error types for a bad header
            raise bad(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    elif kind in ("json", "text"):
        try:
            text = path.read_bytes().decode("utf-8")
            if kind == "json":
                json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise bad(type(exc).__name__) from None
    elif kind == "sentencepiece":
        with path.open("rb") as fh:
            if fh.read(1) != b"\n":  # a ModelProto starts with its first field, pieces
                raise bad("does not start like a SentencePiece model")


def dvc_caches(path: Path) -> tuple[Path, ...]:
    """The DVC cache of the project holding `path` (the nearest folder above it with a .dvc
    folder): the `cache.dir` its DVC config names, or .dvc/cache. Empty outside a project."""
    for root in Path(os.path.abspath(path)).parents:
        if (root / ".dvc").is_dir():
            return (_cache_dir(str(root)),)
    return ()


@functools.lru_cache(maxsize=None)
def _cache_dir(root: str) -> Path:
    from dvc.config import Config, ConfigError

    dvc_dir = os.path.join(root, ".dvc")
    try:
        # DVC's own reader: every config level, paths relative to the file naming them.
        configured = Config(dvc_dir=dvc_dir)["cache"].get("dir")
    except ConfigError as exc:
        raise InputError(f"DVC config does not load ({exc})", file=dvc_dir) from None
    return Path(configured or os.path.join(dvc_dir, "cache")).resolve()


def published_file(path: Path) -> Path:
    """The file an upload reads for `path`: `path` itself when it is a regular file, the
    link's target when it is a link into the project's DVC cache (what a `cache.type:
    symlink` checkout leaves); anything else is an InputError."""
    if not path.is_symlink():
        if not path.is_file():
            raise InputError("not a regular file" if path.exists() else "not found",
                             file=str(path))
        return path
    target = path.resolve()
    caches = dvc_caches(path)
    if target.is_file() and any(target.is_relative_to(c) for c in caches):
        return target
    raise InputError(f"is a link to {target}, outside the project's DVC cache "
                     f"({caches[0] if caches else 'no .dvc folder above it'}); only the "
                     "project's own files are published", file=str(path))


def would_refuse(exc: InputError) -> InputError:
    """`exc` as a dry run reports it: the same check, which the real upload would fail."""
    return InputError(f"would refuse to publish: {exc.message}", file=exc.file, line=exc.line,
                      field=exc.field)


def upload_files(folder: Path) -> tuple[list[UploadFile], list[str]]:
    """(files to upload, names left out) of a checkpoint folder: regular files at its top
    level whose name is on the allow-list and whose content matches it. A link is followed
    only into the project's DVC cache (`published_file`): an allow-listed name that links
    elsewhere is an error, anything else is left out."""
    files, left_out = [], []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        kind = kind_of(entry.name)
        if kind is None or entry.name == "README.md":
            if entry.name != "README.md":  # the card replaces the folder's own README.md
                left_out.append(entry.name + ("/" if entry.is_dir() else ""))
            continue
        source = published_file(entry)
        check_content(source, kind)
        files.append(UploadFile(entry.name, source.stat().st_size, source))
    return files, left_out


GGUF_FOLDER = "gguf"


def gguf_upload_files(export_dir: Path) -> tuple[list[UploadFile], list[str]]:
    """The export stage's files (GGUF, Modelfile, README.md, export.json) for the repo's
    gguf/ folder, each checked against the manifest's size and sha256; (files, warnings)."""
    from bias_judge.core.jsonio import read_json, sha256_file

    def export_file(name: str) -> Path:
        path = export_dir / name
        if not path.exists() and not path.is_symlink():
            raise InputError("missing from the GGUF export; re-run the export stage (dvc repro "
                             "export)", file=str(path))
        return published_file(path)

    readme, manifest_path = export_file("README.md"), export_file("export.json")
    manifest = read_json(manifest_path, schema="gguf_export")
    if manifest["skipped"]:
        return [], [f"no GGUF to upload ({manifest['skipped']})"]
    files = []
    for entry in manifest["files"]:
        path = export_file(entry["path"])
        if path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
            raise InputError("differs from its size or sha256 in export.json; re-run the export "
                             "stage (dvc repro export)", file=str(export_dir / entry["path"]))
        files.append(UploadFile(f"{GGUF_FOLDER}/{entry['path']}", entry["bytes"], path))
    for name, path in (("README.md", readme), ("export.json", manifest_path)):
        files.append(UploadFile(f"{GGUF_FOLDER}/{name}", path.stat().st_size, path))
    return files, []


def plan_upload(repo_id: str, checkpoint: str, folder: str | os.PathLike,
                card: str | os.PathLike, gguf_dir: str | os.PathLike | None = None) -> UploadPlan:
    """What an upload would send: the folder's model, config and tokenizer files (see
    `upload_files`), the validated card as README.md, and, given `gguf_dir` (the export
    stage's folder), its GGUF files under gguf/. Raises InputError for anything unfit to
    publish."""
    folder, card = Path(folder), Path(card)
    check_repo_id(repo_id)
    check_model_folder(folder)
    n_metrics = validate_card_file(published_file(card))
    files, left_out = upload_files(folder)
    files.append(UploadFile("README.md", published_file(card).stat().st_size))
    files += eval_results_files(card.parent)
    warnings = []
    if gguf_dir is not None:
        gguf_files, gguf_warnings = gguf_upload_files(Path(gguf_dir))
        files += gguf_files
        warnings += gguf_warnings
    files.sort(key=lambda f: f.path_in_repo)
    if left_out:
        warnings.append(f"left out (not a weights, config or tokenizer file): {', '.join(left_out)}")
    if repo_id not in card.read_text(encoding="utf-8"):
        warnings.append(f"the card's quick start does not mention '{repo_id}'; set card.repo_ids "
                        f"in params.yaml and re-render so its snippets load this repo")
    return UploadPlan(repo_id, checkpoint, folder, card, n_metrics, tuple(files), tuple(warnings))


def eval_results_files(card_dir: Path) -> list[UploadFile]:
    """The card stage's `.eval_results/*.yaml` beside the card (the Hub's eval results,
    card/eval_results.py), each checked against its schema; an empty list is not sent."""
    import yaml

    from bias_judge.core.schema import first_error, validator_for

    out = []
    folder = card_dir / ".eval_results"
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        source = published_file(path)
        entries = yaml.safe_load(source.read_text(encoding="utf-8"))
        err = first_error(validator_for("eval_results"), entries)
        if err is not None:
            raise InputError(f"fails schema eval_results: {err[1]}", file=str(path),
                             field=err[0])
        if entries:
            out.append(UploadFile(f".eval_results/{path.name}", source.stat().st_size, source))
    return out


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
    n_configs = validate_dataset_card_file(published_file(card))
    files = []
    for f in FILES:
        path = data_dir / f.path
        if not path.exists() and not path.is_symlink():
            raise InputError("data file not found (run the pipeline, or `dvc pull`)", file=str(path))
        if path.parent != data_dir and path.parent.is_symlink():
            # DVC links files, never folders: a linked split/ or rows/ leads out of the data.
            raise InputError("is in a linked folder; only the project's own files are published",
                             file=str(path))
        source = published_file(path)
        files.append(UploadFile(f.path, source.stat().st_size, source))
    files.append(UploadFile("README.md", published_file(card).stat().st_size))
    files += eval_results_files(card.parent)
    warnings = []
    if repo_id not in card.read_text(encoding="utf-8"):
        warnings.append(f"the dataset card does not mention '{repo_id}'; set card.repo_ids.dataset "
                        f"in params.yaml and re-render so its loading snippet names this repo")
    return UploadPlan(repo_id, "dataset", data_dir, card, n_configs, tuple(files),
                      tuple(warnings), repo_type="dataset")


def repo_url(plan: UploadPlan) -> str:
    prefix = {"dataset": "datasets/", "space": "spaces/"}.get(plan.repo_type, "")
    return f"https://huggingface.co/{prefix}{plan.repo_id}"


def describe(plan: UploadPlan, *, dry_run: bool) -> list[str]:
    head = "dry run, nothing sent" if dry_run else "uploading"
    if plan.repo_type == "dataset":
        what, checked = "the pipeline's data", f"{plan.card_metrics} configs"
    elif plan.repo_type == "space":
        what = f"the demo Space of the {plan.checkpoint} checkpoint"
        checked = None
    else:
        what, checked = f"{plan.checkpoint} checkpoint", f"{plan.card_metrics} model-index metrics"
    lines = [f"{head}: {what} -> {repo_url(plan)}",
             f"card: {plan.card} (validated, {checked}) -> README.md" if checked else
             f"card: {plan.card} (Space front matter; the app runs {plan.card_metrics} "
             f"library modules copied beside it) -> README.md",
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
                shutil.copyfile(published_file(plan.card), target)
                continue
            # Checked again: the file may have changed since the plan.
            source = published_file(f.source or plan.folder / f.path_in_repo)
            os.symlink(os.path.abspath(source), target)
        try:
            sdk = {"space_sdk": "gradio"} if plan.repo_type == "space" else {}
            api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=private,
                            exist_ok=True, token=token, **sdk)
            message = {"dataset": "Upload the pipeline's data and its dataset card",
                       "space": f"Upload the demo page of the {plan.checkpoint} checkpoint"}.get(
                plan.repo_type, f"Upload the {plan.checkpoint} checkpoint and its model card")
            info = api.upload_folder(
                repo_id=plan.repo_id, repo_type=plan.repo_type, folder_path=str(stage_path),
                commit_message=message, token=token)
        except Exception as exc:  # any Hub failure: report it without the token
            raise PublishError(_redact(f"{type(exc).__name__}: {exc}", token)) from None
    url = getattr(info, "commit_url", None) or repo_url(plan)
    return _redact(str(url), token)
