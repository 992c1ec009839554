"""A merged checkpoint as one GGUF file, written with the `gguf` package (llama.cpp's own
Python writer, tensor-name maps and quantisers); this module is only the glue between a
transformers folder and them.

Only the llama architecture is converted (SmolLM2, the cpu and holdout profiles' model).
The reference converter, llama.cpp's `convert_hf_to_gguf.py`, is not an installable module:
on PyPI it ships only inside llama-cpp-python's source archive (vendor/llama.cpp), beside the
`conversion/` package it imports, and no wheel installs it. Other architectures are refused
with one line naming them.

Quantisation: `gguf.quants.quantize` implements F32, F16, BF16, Q8_0, Q5_0, Q5_1, Q4_0 and
Q4_1; the K-quants (Q5_K_M, Q4_K_M, ...) raise NotImplementedError there (gguf 0.19) and need
llama.cpp's `llama-quantize` binary, run on the F16 or Q8_0 file this writes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.models.folder import chat_template_of, check_model_folder

# The quantisations `gguf.quants` can write, by the names llama.cpp's tools use, with the
# file type recorded in `general.file_type`.
QUANTIZATIONS = ("f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0")
SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)


def _types(name: str):
    import gguf

    T, F = gguf.GGMLQuantizationType, gguf.LlamaFileType
    return {
        "f32": (T.F32, F.ALL_F32), "f16": (T.F16, F.MOSTLY_F16), "bf16": (T.BF16, F.MOSTLY_BF16),
        "q8_0": (T.Q8_0, F.MOSTLY_Q8_0), "q5_1": (T.Q5_1, F.MOSTLY_Q5_1),
        "q5_0": (T.Q5_0, F.MOSTLY_Q5_0), "q4_1": (T.Q4_1, F.MOSTLY_Q4_1),
        "q4_0": (T.Q4_0, F.MOSTLY_Q4_0),
    }[name]


def read_config(model_dir: Path) -> dict:
    path = model_dir / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    arch = (config.get("architectures") or ["(none)"])[0]
    if arch not in SUPPORTED_ARCHITECTURES:
        raise InputError(f"GGUF export supports {', '.join(SUPPORTED_ARCHITECTURES)} only, not "
                         f"{arch} (set export.quantizations: [] for this model)",
                         file=str(path), field="architectures")
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if rope.get("rope_type", "default") != "default":
        raise InputError(f"rope type {rope['rope_type']!r} is not converted (only plain RoPE)",
                         file=str(path), field="rope_parameters")
    for flag in ("attention_bias", "mlp_bias"):
        if config.get(flag):
            raise InputError(f"{flag} is not converted", file=str(path), field=flag)
    return config


def permute_for_rope(w, n_head: int):
    """Q and K rows from transformers' half-split rotary layout to the interleaved pairs
    ggml's RoPE expects (the same reshuffle as llama.cpp's converter; transformers' GGUF
    loader undoes it)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _pre_tokenizer(tokenizer_json: dict, path: Path) -> str:
    """llama.cpp's pre-tokenizer name for this tokenizer's splitting rule."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt-2"          # the plain GPT-2 regex, as the dequantised SmolLM2 splits
    raise InputError(f"pre-tokenizer {json.dumps(pre)[:120]} has no known llama.cpp name",
                     file=str(path), field="pre_tokenizer")


def adds_special_tokens(model_dir: Path) -> tuple[bool, bool]:
    """(adds BOS, adds EOS) when the checkpoint's tokenizer encodes plain text."""
    from bias_judge.models.folder import load_tokenizer

    tok = load_tokenizer(model_dir)
    ids = tok("x")["input_ids"]
    return (tok.bos_token_id is not None and ids[:1] == [tok.bos_token_id],
            tok.eos_token_id is not None and ids[-1:] == [tok.eos_token_id])


def add_vocab(writer, model_dir: Path, n_vocab: int) -> None:
    """Tokens, types, merges, special ids and flags of a GPT-2-style byte-level BPE."""
    import gguf

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise InputError("GGUF export needs a tokenizer.json (byte-level BPE)", file=str(path))
    tokenizer_json = json.loads(path.read_text(encoding="utf-8"))
    try:
        vocab = gguf.vocab.BpeVocab(model_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(f"not a GPT-2-style BPE tokenizer ({exc})", file=str(path)) from None
    tokens, types = [], []
    for text, _score, kind in vocab.all_tokens():
        tokens.append(text.decode("utf-8") if isinstance(text, bytes) else text)
        types.append(kind)
    # BpeVocab calls every token in the base vocabulary NORMAL, the added specials among
    # them; llama.cpp needs them CONTROL (never produced from text) or USER_DEFINED.
    for added in tokenizer_json.get("added_tokens", []):
        if added["id"] < len(types):
            types[added["id"]] = (gguf.TokenType.CONTROL if added.get("special")
                                  else gguf.TokenType.USER_DEFINED)
    if len(tokens) > n_vocab:
        raise InputError(f"tokenizer has {len(tokens)} tokens, the model's embedding {n_vocab}",
                         file=str(path))
    for i in range(len(tokens), n_vocab):  # embedding rows past the tokenizer: unused
        tokens.append(f"[PAD{i}]")
        types.append(gguf.TokenType.UNUSED)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(tokenizer_json, path))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=n_vocab)
    if not special.merges:
        raise InputError("the BPE tokenizer has no merges", file=str(path), field="model.merges")
    # The template the engines use (chat_template.jinja or the tokenizer config's), once.
    special.chat_template = chat_template_of(model_dir)
    # Whether BOS/EOS wrap plain text as the checkpoint's tokenizer does, written always:
    # llama.cpp's default when the key is absent need not match it.
    bos, eos = adds_special_tokens(model_dir)
    special.add_special_token["bos"], special.add_special_token["eos"] = bos, eos
    # The template the engines use (chat_template.jinja or the tokenizer config's), once.
    special.chat_template = chat_template_of(model_dir)
    special.add_to_gguf(writer, quiet=True)


def _tensor(writer, name: str, data, qtype, gguf) -> str:
    """Add one tensor: vectors (norms) stay F32, matrices take the requested type, or F16
    where their rows do not split into the type's blocks. Returns the type written."""
    import numpy as np

    T = gguf.GGMLQuantizationType
    if data.ndim < 2 or qtype == T.F32:
        writer.add_tensor(name, data.astype(np.float32))
        return "F32"
    if qtype == T.F16:
        writer.add_tensor(name, data.astype(np.float16))
        return "F16"
    try:
        packed = gguf.quants.quantize(data, qtype)
    except gguf.quants.QuantError:
        writer.add_tensor(name, data.astype(np.float16))
        return "F16"
    writer.add_tensor(name, packed, raw_shape=packed.shape, raw_dtype=qtype)
    return qtype.name


def write_gguf(model_dir: str | os.PathLike, out_path: str | os.PathLike, quantization: str, *,
               name: str) -> dict:
    """Write `model_dir` (a merged llama checkpoint) to `out_path` as GGUF; returns
    {"architecture", "tensors", "tensor_types": {type: count}}."""
    import gguf
    import numpy as np
    import torch
    from safetensors import safe_open

    model_dir = check_model_folder(model_dir)
    if quantization not in QUANTIZATIONS:
        raise InputError(f"quantization {quantization!r} cannot be written by the gguf package "
                         f"(one of {', '.join(QUANTIZATIONS)})", field="export.quantizations")
    qtype, file_type = _types(quantization)
    config = read_config(model_dir)
    n_layer, n_head = config["num_hidden_layers"], config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads") or n_head
    hidden = config["hidden_size"]
    head_dim = config.get("head_dim") or hidden // n_head
    rope = config.get("rope_parameters") or {}
    rope_theta = rope.get("rope_theta", config.get("rope_theta", 10000.0))

    writer = gguf.GGUFWriter(str(out_path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_name(name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(hidden)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    if head_dim != hidden // n_head:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_rope_freq_base(float(rope_theta))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    add_vocab(writer, model_dir, config["vocab_size"])

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layer)
    tied = config.get("tie_word_embeddings", False)
    counts: dict[str, int] = {}
    shards = sorted(model_dir.glob("model*.safetensors"))
    for shard in shards:
        with safe_open(str(shard), framework="pt") as fh:
            for key in sorted(fh.keys()):
                if key.endswith("rotary_emb.inv_freq") or (tied and key == "lm_head.weight"):
                    continue
                gguf_name = names.get_name(key, try_suffixes=(".weight", ".bias"))
                if gguf_name is None:
                    raise InputError(f"tensor {key!r} has no GGUF name for llama",
                                     file=str(shard), field=key)
                data = fh.get_tensor(key).to(torch.float32).numpy()
                if key.endswith("self_attn.q_proj.weight"):
                    data = permute_for_rope(data, n_head)
                elif key.endswith("self_attn.k_proj.weight"):
                    data = permute_for_rope(data, n_kv)
                kind = _tensor(writer, gguf_name, np.ascontiguousarray(data), qtype, gguf)
                counts[kind] = counts.get(kind, 0) + 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"architecture": config["architectures"][0], "tensors": sum(counts.values()),
            "tensor_types": dict(sorted(counts.items()))}
