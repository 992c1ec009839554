"""A model folder as every phase uses it: the one check of what a loadable folder holds, its
chat template, and the one tokenizer loader (training, inference and evaluation alike)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import read_text

# The weights from_pretrained loads without unpickling anything: one file or a sharded index.
WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# Files any one of which makes a folder loadable by AutoTokenizer.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def check_model_folder(folder: str | os.PathLike, name: str | None = None) -> Path:
    """The folder, when it is usable: config, safetensors weights, no custom code, a tokenizer
    with a chat template. Otherwise one InputError naming the first defect."""
    folder = Path(folder)
    name = name or str(folder)
    if not folder.is_dir():
        raise InputError("model folder not found", file=name)
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise InputError("model folder has no config.json", file=name)
    try:
        config = json.loads(read_text(cfg_path))
    except json.JSONDecodeError as exc:
        raise InputError(f"config.json is not valid JSON ({exc.msg})", file=name) from None
    if "model_type" not in config:
        raise InputError("config.json has no model_type", file=name)
    if config.get("auto_map"):
        raise InputError("model needs custom code (auto_map); trust_remote_code is never used",
                         file=name)
    if not any((folder / f).is_file() for f in WEIGHTS_FILES):
        # Any other *.safetensors (an adapter, say) is not what from_pretrained loads: it
        # would fall back to pickled weights and unpickle them.
        pickled = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLED_SUFFIXES)
        raise InputError(f"model folder has no safetensors weights ({' or '.join(WEIGHTS_FILES)})"
                         + (f"; pickled weights ({', '.join(pickled)}) are never loaded"
                            if pickled else ""), file=name)
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise InputError("model folder has no tokenizer (expected one of "
                         f"{', '.join(TOKENIZER_FILES)}); save the tokenizer with the model",
                         file=name)
    if not chat_template_of(folder):
        raise InputError("model has no chat template (set model.chat_template to a .jinja file)",
                         file=name, field="model.chat_template")
    return folder


def chat_template_of(folder: Path) -> str | None:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return read_text(jinja)
    for fname, key in (("chat_template.json", "chat_template"), ("tokenizer_config.json", "chat_template")):
        p = folder / fname
        if p.is_file():
            try:
                value = json.loads(read_text(p)).get(key)
            except (json.JSONDecodeError, AttributeError):
                raise InputError("not a JSON object", file=str(p)) from None
            if isinstance(value, list):  # named templates: the default one
                value = next((t["template"] for t in value if t.get("name") == "default"), None)
            if value:
                return value
    return None


def load_tokenizer(folder: str | os.PathLike, *, padding_side: str | None = None):
    """The folder's tokenizer (never remote code) with a pad token: EOS where it has none,
    since padding is masked out anyway. Generation pads on the left (`padding_side`)."""
    from transformers import AutoTokenizer

    path = Path(folder)
    try:
        tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    except Exception as exc:  # the library raises OSError/ValueError/KeyError by case
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"tokenizer does not load ({first})", file=str(path)) from None
    if not getattr(tok, "chat_template", None):
        raise InputError("tokenizer has no chat template; the judge prompt needs one",
                         file=str(path))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if padding_side is not None:
        tok.padding_side = padding_side
    return tok
