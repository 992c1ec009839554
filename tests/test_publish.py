"""`bias-judge publish`: the dry run, the token's secrecy, and the upload path against a fake
HfApi (no network anywhere)."""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

from bias_judge.card.inputs import load_inputs
from bias_judge.card.render import CardSettings, render_card
from recipes import card_context, settings, write_params
from bias_judge.stages.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "card"
TOKEN = "hf_TESTsecretTOKEN0123456789"
REPO_ID = "someone/bias-judge"


@pytest.fixture
def release(tmp_path):
    """models/dpo/merged with a fake checkpoint, and the cards rendered from fixtures."""
    merged = tmp_path / "models" / "dpo" / "merged"
    merged.mkdir(parents=True)
    (merged / "config.json").write_text('{"architectures": ["Gemma4ForCausalLM"], '
                                        '"model_type": "gemma4"}\n')
    (merged / "chat_template.jinja").write_text("{{ messages }}\n")
    save_file({"w": np.zeros(750, dtype=np.float32)}, str(merged / "model.safetensors"))
    (merged / "tokenizer.json").write_text("{}\n")
    (merged / "README.md").write_text("stale card written by save_pretrained\n")
    shutil.copytree(FIXTURES, tmp_path / "in")
    repo_ids = {"dpo": REPO_ID, "sft": "someone/bias-judge-sft", "dataset": "someone/bias-judge-pairs"}
    write_params(tmp_path / "params.yaml", card={"repo_ids": repo_ids})
    card = settings("card", CardSettings, repo_ids=repo_ids)
    inputs = load_inputs(tmp_path / "in" / "metrics", tmp_path / "in" / "data")
    for checkpoint in ("sft", "dpo"):
        text = render_card(checkpoint, inputs, card, card_context(ood_category="religion"),
                           metrics_dir=str(tmp_path / "in" / "metrics"),
                           data_dir=str(tmp_path / "in" / "data"))
        (tmp_path / "model_card" / checkpoint).mkdir(parents=True)
        (tmp_path / "model_card" / checkpoint / "README.md").write_text(text)
    return tmp_path


class FakeApi:
    """Records what would reach the Hub; reads the staged folder like upload_folder does."""
    instances: list["FakeApi"] = []

    def __init__(self, token=None, **_):
        self.token = token
        self.calls = []
        self.uploaded: dict[str, bytes] = {}
        FakeApi.instances.append(self)

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        self.calls.append(("upload_folder", repo_id, kwargs))
        root = Path(folder_path)
        self.uploaded = {p.relative_to(root).as_posix(): p.read_bytes()
                         for p in sorted(root.rglob("*")) if p.is_file()}

        class Info:
            commit_url = f"https://huggingface.co/{repo_id}/commit/abc123"
        return Info()


class ExplodingApi(FakeApi):
    def upload_folder(self, **kwargs):
        raise RuntimeError(f"401 Unauthorized for token {TOKEN}")


def _publish(root: Path, *extra, env=None, repo=REPO_ID):
    return CliRunner(env=env or {}).invoke(main, [
        "publish", "--repo", repo, "--checkpoint", "dpo", "--params", str(root / "params.yaml"),
        "--models-dir", str(root / "models"), "--card-dir", str(root / "model_card"), *extra])


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a dry run must not touch the Hub client")
    monkeypatch.setattr(huggingface_hub, "HfApi", refuse)
    FakeApi.instances.clear()


def test_dry_run_is_the_default_and_lists_what_would_be_uploaded(release):
    result = _publish(release, env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("dry run, nothing sent: dpo checkpoint -> https://huggingface.co/" + REPO_ID)
    assert "validated, 22 model-index metrics" in out
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja",
                 "README.md"):
        assert f"  {name}" in out
    size = (release / "models/dpo/merged/model.safetensors").stat().st_size
    assert f"{size / 1024:.1f} KiB" in out  # model.safetensors, 3,000 bytes of weights
    assert "total: 5 files" in out
    assert "HF_TOKEN is set" in out
    assert "warning" not in out  # the card was rendered for this repo id


def test_token_never_appears_in_any_output(release, monkeypatch):
    for extra in ((), ("--no-dry-run",)):
        monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
        result = _publish(release, *extra, env={"HF_TOKEN": TOKEN})
        assert result.exit_code == 0, result.output
        assert TOKEN not in result.output
    monkeypatch.setattr(huggingface_hub, "HfApi", ExplodingApi)
    result = _publish(release, "--no-dry-run", env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 1
    assert "401 Unauthorized" in result.stderr and "***" in result.stderr
    assert TOKEN not in result.output


def test_upload_sends_the_folder_and_the_card_as_readme(release, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    result = _publish(release, "--no-dry-run", "--private", env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"published: https://huggingface.co/{REPO_ID}/commit/abc123")
    api = FakeApi.instances[-1]
    assert api.token == TOKEN
    (c1, repo1, kw1), (c2, repo2, kw2) = api.calls
    assert (c1, repo1, c2, repo2) == ("create_repo", REPO_ID, "upload_folder", REPO_ID)
    assert kw1["exist_ok"] is True and kw1["private"] is True
    assert set(api.uploaded) == {"config.json", "model.safetensors", "tokenizer.json",
                                "chat_template.jinja", "README.md"}
    card = (release / "model_card" / "dpo" / "README.md").read_bytes()
    assert api.uploaded["README.md"] == card  # the rendered card, not the folder's stale one
    assert api.uploaded["model.safetensors"] == (release / "models/dpo/merged/model.safetensors").read_bytes()


def test_real_upload_without_token_fails_before_any_call(release, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    result = _publish(release, "--no-dry-run")
    assert result.exit_code == 2 and "HF_TOKEN is not set" in result.stderr
    assert FakeApi.instances == []


def test_a_broken_card_blocks_even_the_dry_run(release):
    card = release / "model_card" / "dpo" / "README.md"
    card.write_text(card.read_text().replace("value: 0.682", "value: .inf", 1))
    result = _publish(release)
    assert result.exit_code == 2
    assert "model-index[0].results[0].metrics[0].value" in result.stderr


def test_missing_checkpoint_folder_is_an_input_error(release):
    shutil.rmtree(release / "models" / "dpo" / "merged")
    result = _publish(release)
    assert result.exit_code == 2 and "merged" in result.stderr


def test_warns_when_the_card_was_rendered_for_another_repo(release):
    result = CliRunner().invoke(main, [
        "publish", "--repo", "other/name", "--checkpoint", "dpo",
        "--models-dir", str(release / "models"), "--card-dir", str(release / "model_card")])
    assert result.exit_code == 0
    assert "warning: the card's quick start does not mention 'other/name'" in result.stdout


def test_only_allow_listed_files_are_uploaded(release, monkeypatch):
    """Hidden files, pickled weights and anything else beside the model are left out (and
    named); before, `.env` and `pytorch_model.bin` were listed and uploaded."""
    merged = release / "models" / "dpo" / "merged"
    (merged / ".env").write_text(f"HF_TOKEN={TOKEN}\n")
    (merged / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    (merged / "runs").mkdir()
    (merged / "runs" / "events.out").write_text("x")
    dry = _publish(release)
    assert dry.exit_code == 0, dry.output
    assert "warning: left out (not a weights, config or tokenizer file): .env, pytorch_model.bin, runs/" in dry.stdout
    assert "total: 5 files" in dry.stdout
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert _publish(release, "--no-dry-run", env={"HF_TOKEN": TOKEN}).exit_code == 0
    assert set(FakeApi.instances[-1].uploaded) == {"config.json", "model.safetensors",
                                                   "tokenizer.json", "chat_template.jinja",
                                                   "README.md"}


def test_links_are_never_followed_out_of_the_folder(release, monkeypatch):
    merged = release / "models" / "dpo" / "merged"
    secret = release / "outside.txt"
    secret.write_text("not for the Hub\n")
    (merged / "notes.txt").symlink_to(secret)  # not on the allow-list: left out
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert _publish(release, "--no-dry-run", env={"HF_TOKEN": TOKEN}).exit_code == 0
    assert "notes.txt" not in FakeApi.instances[-1].uploaded
    (merged / "tokenizer.json").unlink()
    (merged / "tokenizer.json").symlink_to(secret)  # on the allow-list: refused
    result = _publish(release)
    assert result.exit_code == 2
    assert "tokenizer.json" in result.stderr and "link" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, content, needle", [
    ("model.safetensors", b"\0" * 3000, "not a safetensors file"),
    ("generation_config.json", b"{not json", "not a json file"),
    ("tokenizer.model", b"\x80\x04pickle", "not a sentencepiece file"),
])
def test_files_must_be_what_their_name_claims(release, name, content, needle):
    (release / "models" / "dpo" / "merged" / name).write_bytes(content)
    result = _publish(release)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and name in result.stderr


@pytest.mark.parametrize("repo_id", ["../y", "x/..", "a/b/c", "name-only", "x/y--z"])
def test_repo_ids_are_validated_like_the_hub_does(release, repo_id):
    result = CliRunner().invoke(main, [
        "publish", "--repo", repo_id, "--checkpoint", "dpo",
        "--models-dir", str(release / "models"), "--card-dir", str(release / "model_card")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: field 'repo':")


# --- placeholders and the dataset ------------------------------------------------------------

def test_a_placeholder_in_params_stops_a_real_upload_before_any_call(release, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    params = release / "params.yaml"
    write_params(params, card={"repo_ids": {"dpo": "your-hf-name/bias-judge", "sft": "a/b",
                                            "dataset": "a/c"}})
    result = CliRunner(env={"HF_TOKEN": TOKEN}).invoke(main, [
        "publish", "--repo", "a/b", "--checkpoint", "dpo", "--no-dry-run", "--params", str(params),
        "--models-dir", str(release / "models"), "--card-dir", str(release / "model_card")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "field 'card.repo_ids.dpo'" in lines[0] and "placeholder" in lines[0]
    assert FakeApi.instances == [] and result.stdout == ""


def test_a_placeholder_repo_on_the_command_line_is_refused(release, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    result = _publish(release, "--no-dry-run", env={"HF_TOKEN": TOKEN},
                      repo="your-hf-name/bias-judge")
    assert result.exit_code == 2 and "field '--repo'" in result.stderr
    assert FakeApi.instances == []
    # A dry run only shows what would happen, placeholder or not.
    assert _publish(release, repo="your-hf-name/bias-judge").exit_code == 0


@pytest.fixture
def data_release(release):
    """The pipeline's data files and the dataset card rendered for them."""
    from bias_judge.card.dataset import FILES, render_dataset_card

    data = release / "data"
    for f in FILES:
        (data / f.path).parent.mkdir(parents=True, exist_ok=True)
        (data / f.path).write_text(f'{{"file": "{f.config}"}}\n')
    inputs = load_inputs(release / "in" / "metrics", release / "in" / "data")
    text = render_dataset_card(inputs, "someone/bias-judge-pairs", None, labeler="rule",
                               ood_category="religion", data_ctx=card_context().data)
    (release / "model_card" / "dataset").mkdir()
    (release / "model_card" / "dataset" / "README.md").write_text(text)
    return release


def _publish_dataset(root: Path, *extra, env=None):
    return CliRunner(env=env or {}).invoke(main, [
        "publish", "--repo", "someone/bias-judge-pairs", "--dataset",
        "--params", str(root / "params.yaml"), "--data-dir", str(root / "data"),
        "--card-dir", str(root / "model_card"), *extra])


def test_dataset_dry_run_lists_the_files_and_the_card(data_release):
    result = _publish_dataset(data_release, "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("dry run, nothing sent: the pipeline's data -> "
                          "https://huggingface.co/datasets/someone/bias-judge-pairs")
    assert "(validated, 6 configs) -> README.md" in out
    for name in ("pairs.jsonl", "split/eval.jsonl", "split/train.jsonl", "labels.jsonl",
                 "rows/sft.jsonl", "rows/dpo.jsonl", "README.md"):
        assert f"  {name}" in out
    assert "total: 7 files" in out and "warning" not in out


def test_dataset_upload_sends_a_dataset_repo(data_release, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    result = _publish_dataset(data_release, "--no-dry-run", env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    api = FakeApi.instances[-1]
    assert [kw["repo_type"] for _, _, kw in api.calls] == ["dataset", "dataset"]
    assert api.uploaded["split/train.jsonl"] == b'{"file": "train"}\n'
    assert api.uploaded["README.md"] == (data_release / "model_card" / "dataset" / "README.md").read_bytes()


def test_checkpoint_and_dataset_exclude_each_other(data_release):
    result = CliRunner().invoke(main, ["publish", "--repo", "a/b", "--dataset", "--checkpoint", "dpo"])
    assert result.exit_code == 2 and "exactly one of --checkpoint and --dataset" in result.output


def write_export(root: Path, *, skipped: str | None = None) -> Path:
    """models/dpo/gguf as the export stage leaves it (stand-in bytes for the GGUF)."""
    from bias_judge.core.jsonio import sha256_file, write_json

    out = root / "models" / "dpo" / "gguf"
    out.mkdir(parents=True)
    files = []
    if not skipped:
        (out / "bias-judge-dpo.Q8_0.gguf").write_bytes(b"GGUF" + bytes(2044))
        (out / "Modelfile").write_text("FROM ./bias-judge-dpo.Q8_0.gguf\n")
        files = [{"path": n, "bytes": (out / n).stat().st_size, "sha256": sha256_file(out / n)}
                 for n in ("bias-judge-dpo.Q8_0.gguf", "Modelfile")]
    (out / "README.md").write_text("# GGUF\n")
    write_json(out / "export.json", {"checkpoint": "dpo", "architecture": None if skipped else
                                     "LlamaForCausalLM", "skipped": skipped, "files": files},
               schema="gguf_export")
    return out


GGUF_FILES = {"gguf/bias-judge-dpo.Q8_0.gguf", "gguf/Modelfile", "gguf/README.md", "gguf/export.json"}


def test_the_gguf_export_is_listed_and_uploaded_into_a_gguf_folder(release, monkeypatch):
    export = write_export(release)
    result = _publish(release)
    assert result.exit_code == 0, result.output
    for name in GGUF_FILES:
        assert f"  {name}" in result.stdout
    assert "total: 9 files" in result.stdout
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    result = _publish(release, "--no-dry-run", env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    uploaded = FakeApi.instances[-1].uploaded
    assert GGUF_FILES <= set(uploaded)
    assert uploaded["gguf/bias-judge-dpo.Q8_0.gguf"] == (export / "bias-judge-dpo.Q8_0.gguf").read_bytes()
    assert uploaded["README.md"] == (release / "model_card" / "dpo" / "README.md").read_bytes()

    result = _publish(release, "--no-gguf")
    assert result.exit_code == 0 and "gguf/" not in result.stdout


def test_one_dry_run_lists_the_model_its_gguf_and_the_space(release):
    write_export(release)
    result = _publish(release, "--space-repo", "someone/bias-judge-demo")
    assert result.exit_code == 0, result.output
    model, space = result.stdout.split("\n\n", 1)
    for name in GGUF_FILES | {"model.safetensors", "README.md"}:
        assert f"  {name}" in model
    assert "https://huggingface.co/spaces/someone/bias-judge-demo" in space
    for name in ("app.py", "requirements.txt", "space.json", "README.md"):
        assert f"  {name}" in space
    bad = _publish(release, "--space-repo", "a/b", "--dataset")
    assert bad.exit_code == 2 and "--space-repo goes with --checkpoint" in bad.output


def test_a_placeholder_space_repo_stops_the_upload_before_the_model_is_sent(release, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    result = _publish(release, "--no-dry-run", "--space-repo", "your-hf-name/demo",
                      env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 2 and "placeholder" in result.stderr
    assert FakeApi.instances == []


def test_a_gguf_that_differs_from_its_manifest_is_refused(release):
    export = write_export(release)
    (export / "bias-judge-dpo.Q8_0.gguf").write_bytes(b"GGUF" + bytes(2043) + b"x")
    result = _publish(release)
    assert result.exit_code == 2
    assert "bias-judge-dpo.Q8_0.gguf" in result.output and "sha256 in export.json" in result.output


def test_a_skipped_export_uploads_nothing_and_says_why(release):
    write_export(release, skipped="export.quantizations is empty")
    result = _publish(release)
    assert result.exit_code == 0, result.output
    assert "gguf/" not in result.stdout
    assert "warning: no GGUF to upload (export.quantizations is empty)" in result.stdout


# --- links: into the project's DVC cache they are resolved, anywhere else refused ------------

def test_a_missing_gguf_readme_is_one_line(release):
    export = write_export(release)
    (export / "README.md").unlink()
    result = _publish(release)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and "README.md" in lines[0]


@pytest.mark.parametrize("name", ["README.md", "export.json"])
def test_the_dry_run_says_it_would_refuse_a_linked_gguf_file(release, monkeypatch, name):
    export = write_export(release)
    outside = release.parent / f"outside-{release.name}-{name}"
    shutil.move(export / name, outside)
    (export / name).symlink_to(outside)
    dry = _publish(release)
    lines = dry.stderr.strip().splitlines()
    assert dry.exit_code == 2 and len(lines) == 1, dry.output
    assert "would refuse" in lines[0] and name in lines[0]
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    real = _publish(release, "--no-dry-run", env={"HF_TOKEN": TOKEN})
    assert real.exit_code == 2 and name in real.stderr and FakeApi.instances == []


def test_the_dataset_dry_run_says_it_would_refuse_a_linked_data_file(data_release, monkeypatch):
    labels = data_release / "data" / "labels.jsonl"
    outside = data_release.parent / f"outside-{data_release.name}.jsonl"
    shutil.move(labels, outside)
    labels.symlink_to(outside)
    dry = _publish_dataset(data_release, "--dry-run")
    lines = dry.stderr.strip().splitlines()
    assert dry.exit_code == 2 and len(lines) == 1, dry.output
    assert "would refuse" in lines[0] and "labels.jsonl" in lines[0]
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    real = _publish_dataset(data_release, "--no-dry-run", env={"HF_TOKEN": TOKEN})
    assert real.exit_code == 2 and "labels.jsonl" in real.stderr and FakeApi.instances == []


def _into_cache(path: Path, cache: Path) -> None:
    """Replace `path` by a link into `cache`, as a `cache.type: symlink` checkout leaves it."""
    import hashlib

    digest = hashlib.md5(path.read_bytes()).hexdigest()
    target = cache / "files" / "md5" / digest[:2] / digest[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    path.symlink_to(target)


def _symlink_checkout(root: Path, cache: Path) -> dict[str, bytes]:
    """Every published file of `root` a link into `cache`; returns path in repo -> bytes."""
    merged, export = root / "models" / "dpo" / "merged", root / "models" / "dpo" / "gguf"
    card = root / "model_card" / "dpo" / "README.md"
    expected = {"README.md": card.read_bytes()}
    for folder, prefix in ((merged, ""), (export, "gguf/")):
        for p in sorted(folder.iterdir()):
            if p.name != "README.md" or prefix:
                expected[prefix + p.name] = p.read_bytes()
            _into_cache(p, cache)
    _into_cache(card, cache)
    return expected


@pytest.mark.parametrize("cache_dir", [None, "../../dvc-cache"])
def test_a_symlink_checkout_of_the_dvc_cache_publishes(release, monkeypatch, cache_dir):
    (release / ".dvc").mkdir()
    (release / ".dvc" / "config").write_text(f"[cache]\n    dir = {cache_dir}\n    type = symlink\n"
                                             if cache_dir else "")
    cache = (release / ".dvc" / cache_dir).resolve() if cache_dir else release / ".dvc" / "cache"
    write_export(release)
    expected = _symlink_checkout(release, cache)
    dry = _publish(release)
    assert dry.exit_code == 0, dry.output
    assert "total: 9 files" in dry.stdout
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    real = _publish(release, "--no-dry-run", env={"HF_TOKEN": TOKEN})
    assert real.exit_code == 0, real.output
    assert FakeApi.instances[-1].uploaded == expected


def test_a_link_elsewhere_in_a_dvc_project_is_refused(release, monkeypatch):
    (release / ".dvc").mkdir()
    (release / ".dvc" / "config").write_text("")
    write_export(release)
    _symlink_checkout(release, release / ".dvc" / "cache")
    # Inside the project, but not in its cache.
    merged = release / "models" / "dpo" / "merged"
    elsewhere = release / "notes" / "config.json"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes((merged / "config.json").read_bytes())
    (merged / "config.json").unlink()
    (merged / "config.json").symlink_to(elsewhere)
    dry = _publish(release)
    lines = dry.stderr.strip().splitlines()
    assert dry.exit_code == 2 and len(lines) == 1, dry.output
    assert "would refuse" in lines[0] and "config.json" in lines[0] and "DVC cache" in lines[0]
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    real = _publish(release, "--no-dry-run", env={"HF_TOKEN": TOKEN})
    assert real.exit_code == 2 and "config.json" in real.stderr and FakeApi.instances == []
