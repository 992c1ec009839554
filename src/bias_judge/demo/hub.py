"""What a Hugging Face Space built by `bias-judge publish --space` runs: read `space.json`
beside the app, download the published checkpoint it names, and serve the demo page with the
transformers engine on the Space's CPU.

The Space holds a copy of the library modules this module imports (see demo.space), so the
page judges exactly as `bias-judge demo` and `bias-judge judge` do.
"""

from __future__ import annotations

import json
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.demo.app import run_demo
from bias_judge.evaluation.judge import JudgeSettings

CONFIG = "space.json"
ENGINE = "transformers"   # a Space's CPU hardware has neither vLLM nor a server beside it


def load_config(folder: str | Path) -> dict:
    path = Path(folder) / CONFIG
    config = json.loads(path.read_text(encoding="utf-8"))
    if not config.get("model"):
        raise InputError("names no published model: set card.repo_ids in params.yaml to a real "
                         "repo and publish the Space again", file=str(path), field="model")
    return config


def judge_settings(config: dict, model_dir: str | Path) -> JudgeSettings:
    """space.json's judge settings, with the prompt style and reply budget the downloaded
    checkpoint's bias_judge.json records in place of what space.json says: the repo may hold
    a newer upload than the one the Space was rendered for."""
    import sys
    from dataclasses import replace

    from bias_judge.models.judge_record import apply_record

    settings = JudgeSettings(**config["judge"])
    values, warnings = apply_record(
        model_dir, {"prompt_style": settings.prompt_style,
                    "max_new_tokens": settings.max_new_tokens},
        names={"prompt_style": f"{CONFIG} judge.prompt_style",
               "max_new_tokens": f"{CONFIG} judge.max_new_tokens"}, options=None)
    for warning in warnings:
        print(f"warning: space: {warning}", file=sys.stderr)
    return replace(settings, **values)


def main(folder: str | Path | None = None) -> None:
    from huggingface_hub import snapshot_download

    config = load_config(folder or Path.cwd())
    model_dir = snapshot_download(config["model"], revision=config.get("revision"))
    run_demo(model_dir, engine=ENGINE, dtype=config["dtype"],
             max_model_len=config["max_model_len"], engine_options=config["engine_options"],
             base_url=None, settings=judge_settings(config, model_dir), host=None, port=None,
             published=config["model"])


if __name__ == "__main__":
    main()
