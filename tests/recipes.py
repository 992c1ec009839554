"""The recipe a test runs with: the committed params.yaml, or a profile merged onto a copy of
it, read through the stages' own settings classes. Tests keep no defaults of their own."""

from __future__ import annotations

import copy

from bias_judge.core.settings import replace as settings_replace
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import yaml

from bias_judge.core.params import load_params
from bias_judge.tools.profiles import apply_profile
from bias_judge.core.settings import build, lookup

REPO = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=None)
def _load(profile: str | None) -> dict:
    if profile is None:
        return load_params(REPO / "params.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "params.yaml"
        shutil.copy(REPO / "params.yaml", path)
        apply_profile(profile, path, REPO / "profiles")
        return load_params(path)


def params(profile: str | None = None) -> dict:
    """params.yaml (with profiles/PROFILE.yaml merged onto it), a fresh copy to edit."""
    return copy.deepcopy(_load(profile))


def settings(key: str, cls, profile: str | None = None, **overrides):
    """The settings object a stage builds for `key`, with some fields replaced."""
    return settings_replace(build(cls, lookup(params(profile), key), key), **overrides)


def write_params(path: Path, profile: str | None = None, **sections) -> Path:
    """params.yaml with `sections` ({section: {key: value}}) merged in, written to `path`."""
    p = params(profile)
    for section, values in sections.items():
        p[section].update(values)
    path.write_text(yaml.safe_dump(p, sort_keys=False))
    return path


def card_context(profile: str | None = None, **overrides):
    """The card's Context as the card stage builds it from params."""
    from bias_judge.card.provenance import DataContext
    from bias_judge.card.render import Context

    p = params(profile)
    data = DataContext(pairs_source=p["pairs"]["source"], pairs_import_file=p["pairs"]["import_file"],
                       generator=p["candidates"]["generator"],
                       generator_models=tuple(p["candidates"]["llm"]["models"]))
    return Context(**{"ood_category": p["split"]["ood_category"], "labeler": p["label"]["labeler"],
                      "max_new_tokens": p["eval"]["max_new_tokens"],
                      "max_model_len": p["eval"]["max_model_len"],
                      "prompt_style": p["prompt"]["style"], "guided": p["eval"]["guided"],
                      "data": data, **overrides})
