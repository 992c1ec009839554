"""Materialise `model.source` as one local model folder: safetensors weights, tokenizer, chat
template and generation config, written atomically (a temporary folder renamed into place)."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.models.folder import (PICKLED_SUFFIXES, chat_template_of, check_model_folder,
                                     template_problem)
from bias_judge.models.chat_templates import GEMMA3_CHAT_TEMPLATE, GEMMA3_END_OF_TURN, has_thinking_mode
from bias_judge.models.sources import Source, resolve

# Files a hub download or folder copy keeps. Pickled weights (.bin, .pt) are never copied:
# safetensors only, and no custom code (.py) since nothing runs with trust_remote_code.
KEEP_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "tokenizer.model", "*.txt", "README.md",
                 "LICENSE*", "NOTICE*"]


def materialize(source: str, out_dir: str | os.PathLike, *, revision: str | None = None,
                chat_template_path: str | None = None) -> dict:
    """Write the model named by `source` to `out_dir`; return its description (the
    base_model metrics). Nothing is left at `out_dir` when anything fails."""
    from bias_judge.core.artifacts import StageResult, write_result

    built, info = build_model_folder(source, out_dir, revision=revision,
                                     chat_template_path=chat_template_path)
    write_result(StageResult(outputs=[], folders=[built]))
    return info


def build_model_folder(source: str, out_dir: str | os.PathLike, *, revision: str | None = None,
                       chat_template_path: str | None = None):
    """(the model named by `source`, complete and checked in a temporary folder beside
    `out_dir` for `write_result` to put in place, its description). The temporary folder is
    removed when anything fails."""
    from bias_judge.core.artifacts import Folder

    src = resolve(source)
    template = _read_template(chat_template_path)
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        if src.kind == "tiny":
            from bias_judge.models.tiny import write_tiny
            write_tiny(tmp)
        elif src.kind == "gguf":
            _from_gguf(Path(src.location), tmp)
        elif src.kind == "folder":
            _copy_folder(Path(src.location), tmp)
        else:
            _download(src.location, revision, tmp)
        _finish_chat_template(tmp, template)
        check_model_folder(tmp, name=str(out_dir))
        return Folder(tmp, out_dir), describe(tmp, src)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_template(path: str | None) -> str | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise InputError("chat template file not found", file=str(p), field="model.chat_template")
    text = p.read_text(encoding="utf-8")
    if "messages" not in text:
        raise InputError("does not look like a Jinja chat template (never reads `messages`)",
                         file=str(p), field="model.chat_template")
    problem = template_problem(text)
    if problem:
        raise InputError(problem, file=str(p), field="model.chat_template")
    return text


def _from_gguf(path: Path, out: Path) -> None:
    """Dequantise a GGUF file into a plain safetensors folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    except Exception as exc:  # the gguf reader raises many types for a bad file
        raise InputError(f"cannot load GGUF file ({type(exc).__name__}: {exc})", file=str(path),
                         field="model.source") from None
    # The dequantised weights are ordinary tensors, but transformers still marks the model as
    # GGUF-quantised and then refuses to save or train it.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _copy_folder(src: Path, out: Path) -> None:
    files = [p for p in src.iterdir() if p.is_file()]
    if not (src / "config.json").is_file():
        raise InputError("model folder has no config.json", file=str(src), field="model.source")
    if not any(p.name.endswith(".safetensors") for p in files):
        kind = "only pickled weights (.bin/.pt), which are refused" if any(
            p.name.endswith(PICKLED_SUFFIXES) for p in files) else "no weights"
        raise InputError(f"model folder has {kind}: safetensors required", file=str(src),
                         field="model.source")
    out.mkdir(parents=True)
    import fnmatch
    for p in files:
        if any(fnmatch.fnmatch(p.name, pat) for pat in KEEP_PATTERNS):
            shutil.copy2(p, out / p.name)


def _download(repo_id: str, revision: str | None, out: Path) -> None:
    try:
        from huggingface_hub import snapshot_download
        snapshot_download(repo_id=repo_id, revision=revision, local_dir=str(out),
                          allow_patterns=KEEP_PATTERNS)
    except Exception as exc:  # network, auth, missing repo: all one message
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError(f"cannot download hub model '{repo_id}' ({type(exc).__name__}: {msg})",
                         field="model.source") from None
    shutil.rmtree(out / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping


def _finish_chat_template(folder: Path, override: str | None) -> None:
    """Install `override`, or the Gemma 3 template for a Gemma 3 model shipped without one."""
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    config = json.loads((folder / "config.json").read_text())
    template = override
    if template is None and not tokenizer.chat_template and config.get("model_type", "").startswith("gemma3"):
        template = GEMMA3_CHAT_TEMPLATE
    if template is None:
        return
    tokenizer.chat_template = template
    tokenizer.save_pretrained(str(folder))
    if GEMMA3_END_OF_TURN in template:
        # Generation must stop at the end of the model's turn, not only at <eos>.
        end_id = tokenizer.convert_tokens_to_ids(GEMMA3_END_OF_TURN)
        gen_path = folder / "generation_config.json"
        gen = GenerationConfig.from_pretrained(str(folder)) if gen_path.is_file() else GenerationConfig()
        eos = gen.eos_token_id if gen.eos_token_id is not None else tokenizer.eos_token_id
        eos = list(eos) if isinstance(eos, (list, tuple)) else [eos]
        if end_id not in eos:
            gen.eos_token_id = [e for e in eos if e is not None] + [end_id]
            gen.save_pretrained(str(folder))


def describe(folder: Path, src: Source) -> dict:
    """The base_model metrics: what was materialised, read from the folder itself."""
    from safetensors import safe_open

    config = json.loads((folder / "config.json").read_text())
    text_config = config.get("text_config") or config
    params, dtypes = 0, Counter()
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as fh:
            for key in fh.keys():
                sl = fh.get_slice(key)
                n = 1
                for d in sl.get_shape():
                    n *= d
                params += n
                dtypes[sl.get_dtype()] += n
    info = {
        "source": src.display,
        "hub_id": src.hub_id,
        "kind": src.kind,
        "architecture": (config.get("architectures") or [config["model_type"]])[0],
        "parameters": params,
        "dtype": _dtype_name(dtypes.most_common(1)[0][0]) if dtypes else "unknown",
        "vocab_size": int(text_config.get("vocab_size") or config.get("vocab_size") or 0),
        "has_thinking_mode": has_thinking_mode(chat_template_of(folder)),
        "license": src.license or _readme_license(folder),
    }
    if src.kind == "gguf":
        info["gguf"] = {"file": Path(src.location).name, "quantization": src.quantization}
    return info


def _dtype_name(st_dtype: str) -> str:
    return {"F32": "float32", "BF16": "bfloat16", "F16": "float16", "F64": "float64",
            "U8": "uint8", "I8": "int8"}.get(st_dtype, st_dtype.lower())


def _readme_license(folder: Path) -> str | None:
    """`license:` from the model card's YAML front matter, when there is one."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    import yaml
    try:
        front = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return None
    value = front.get("license") if isinstance(front, dict) else None
    return str(value) if value else None
