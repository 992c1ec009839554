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
from bias_judge.card.render import CardSettings, render_cards
from recipes import card_context, settings
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
    card = settings("card", CardSettings, repo_ids={"dpo": REPO_ID, "sft": "someone/bias-judge-sft"})
    render_cards(load_inputs(tmp_path / "in" / "metrics", tmp_path / "in" / "data"), card,
                 card_context(ood_category="religion"), tmp_path / "model_card",
                 metrics_dir=str(tmp_path / "in" / "metrics"), data_dir=str(tmp_path / "in" / "data"))
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


def _publish(root: Path, *extra, env=None):
    return CliRunner(env=env or {}).invoke(main, [
        "publish", "--repo", REPO_ID, "--checkpoint", "dpo",
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
