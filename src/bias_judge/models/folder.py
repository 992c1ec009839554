"""A model folder as every phase uses it: the one check of what a loadable folder holds, its
chat template, and the one tokenizer loader (training, inference and evaluation alike)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import read_text

# The weights from_pretrained loads without unpickling anything: one file or a sharded index.
INDEX_FILE = "model.safetensors.index.json"
WEIGHTS_FILES = ("model.safetensors", INDEX_FILE)
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
    if (folder / INDEX_FILE).is_file():
        check_weights_index(folder, name)
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise InputError("model folder has no tokenizer (expected one of "
                         f"{', '.join(TOKENIZER_FILES)}); save the tokenizer with the model",
                         file=name)
    template = chat_template_of(folder)
    if not template:
        raise InputError("model has no chat template (set model.chat_template to a .jinja file)",
                         file=name, field="model.chat_template")
    problem = template_problem(template)
    if problem:
        raise InputError(problem, file=name, field="chat_template")
    return folder


def check_weights_index(folder: Path, name: str) -> None:
    """Every file the sharded index names is a .safetensors file of the folder itself: the
    index decides what from_pretrained opens, so one entry naming pytorch_model.bin would make
    it unpickle that file, and one naming ../x.safetensors would load weights from elsewhere."""
    where = f"{name}/{INDEX_FILE}"
    try:
        index = json.loads(read_text(folder / INDEX_FILE))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", file=where) from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise InputError("has no weight_map (tensor name -> shard file)", file=where,
                         field="weight_map")
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str):
            raise InputError(f"shard of tensor '{tensor}' is not a file name", file=where,
                             field="weight_map")
        if not shard.endswith(".safetensors") or shard != Path(shard).name or "\\" in shard:
            raise InputError(f"tensor '{tensor}' is mapped to '{shard}': every shard must be a "
                             "safetensors file in the model folder itself", file=where,
                             field="weight_map")
        if not (folder / shard).is_file():
            raise InputError(f"tensor '{tensor}' is mapped to '{shard}', which is not in the "
                             "folder", file=where, field="weight_map")


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


# Tags that load another template. transformers renders chat templates in a sandbox with no
# template loader, so a template using one can never render: it fails with a TypeError on
# every conversation.
LOADING_TAGS = ("include", "import", "from", "extends")


def template_problem(template: str) -> str | None:
    """Why `template` can never render as a chat template, or None. Only lexes it: a tag
    from a transformers extension (`{% generation %}`) is no error here."""
    import jinja2

    try:
        tokens = list(jinja2.Environment().lexer.tokenize(template))
    except jinja2.TemplateSyntaxError as exc:
        return f"the chat template is not valid Jinja (line {exc.lineno}: {exc.message})"
    for before, token in zip(tokens, tokens[1:]):
        if before.type == "block_begin" and token.type == "name" and token.value in LOADING_TAGS:
            return (f"the chat template uses {{% {token.value} %}} (line {token.lineno}), which "
                    "loads another template; chat templates are rendered without a loader, so "
                    "it must be self-contained")
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
