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


def main(folder: str | Path | None = None) -> None:
    from huggingface_hub import snapshot_download

    config = load_config(folder or Path.cwd())
    model_dir = snapshot_download(config["model"], revision=config.get("revision"))
    run_demo(model_dir, engine=ENGINE, dtype=config["dtype"],
             max_model_len=config["max_model_len"], engine_options=config["engine_options"],
             base_url=None, settings=JudgeSettings(**config["judge"]), host=None, port=None,
             published=config["model"])


if __name__ == "__main__":
    main()
