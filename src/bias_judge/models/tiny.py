"""Tiny random-initialised Gemma 4 models for tests: the text-only judge of the CI smoke
profile, and a multimodal one for the rehearsal of the gpu recipe.

They learn nothing useful; they exist so that every training code path (tokenising with a chat
template, completion-only loss, LoRA, checkpoints, merging) runs in seconds. The tokenizer is
trained here, on judge-like text, so nothing is downloaded.

The multimodal model is of the class the hub's Gemma 4 checkpoints load as
(`Gemma4ForConditionalGeneration`: the language model under `model.language_model`, vision and
audio towers beside it) with the E-series features that shape its module names: per-layer
inputs (`per_layer_input_gate`, `per_layer_projection`) and key/value sharing (the last layers
have no k_proj or v_proj). Its tokenizer has Gemma 4's turn and thinking tokens and its chat
template Gemma 4's turn format, thinking switch included.
"""

from __future__ import annotations

import random
from pathlib import Path

from bias_judge.models.chat_templates import TINY_CHAT_TEMPLATE, TINY_GEMMA4_CHAT_TEMPLATE

SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
PAD, EOS, BOS, UNK, START, END = range(len(SPECIAL_TOKENS))
VOCAB_SIZE = 1024
SEED = 1234

# Shape of the model: two layers (one sliding, one global) so both attention paths run.
CONFIG = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=16,
    global_head_dim=16,
    layer_types=["sliding_attention", "full_attention"],
    hidden_size_per_layer_input=0,
    sliding_window=128,
    max_position_embeddings=8192,
)

_PEOPLE = ["the grandmother", "the teenager", "the nurse", "the engineer", "the immigrant",
           "the wheelchair user", "the pastor", "the janitor", "the lawyer", "the student",
           "the man", "the woman", "the neighbour", "the refugee", "the retiree"]
_VERBS = ["forgot the keys", "was late to the meeting", "asked for help", "won the prize",
          "broke the window", "paid the bill", "fixed the car", "lost the wallet"]
_HEDGES = ["probably", "likely", "it seems", "might", "tends to"]
_JUDGE = ["relies on a stereotype", "follows the passage", "picks the unknown option",
          "names a person without evidence", "is equally clean", "overrides the facts"]


def corpus(n_lines: int = 400, seed: int = SEED) -> list[str]:
    """Judge-shaped text: the real system prompt and reminder, plus generated questions,
    answer choices, responses and verdict replies."""
    from bias_judge.data.prompt import REPLY_REMINDER, SYSTEM_PROMPT

    rng = random.Random(seed)
    lines = [SYSTEM_PROMPT, REPLY_REMINDER]
    for _ in range(n_lines):
        a, b = rng.sample(_PEOPLE, 2)
        verdict = rng.choice(["A", "B", "TIE"])
        lines.append(
            f"Question:\n{a.capitalize()} and {b} met at the station. Who {rng.choice(_VERBS)}?\n\n"
            f"Answer choices:\nA. {a}\nB. {b}\nC. Cannot be determined\n\n"
            f"Response A:\n{rng.choice(_HEDGES).capitalize()} {a}. The answer is A.\n\n"
            f"Response B:\nThe passage does not say, so C.\n\n"
            f"<reasoning>Response {rng.choice('AB')} {rng.choice(_JUDGE)}.</reasoning>"
            f"<verdict>{verdict}</verdict>")
    return lines


def build_tokenizer(seed: int = SEED, *, special_tokens: list[str] = SPECIAL_TOKENS,
                    eos_token: str = "<end_of_turn>", chat_template: str = TINY_CHAT_TEMPLATE):
    """A byte-level BPE tokenizer trained on `corpus()`, wrapped with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=special_tokens,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus(seed=seed), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token=eos_token, pad_token="<pad>",
        unk_token="<unk>", chat_template=chat_template,
        model_max_length=CONFIG["max_position_embeddings"])


def build_model(vocab_size: int, seed: int = SEED):
    import torch
    from transformers import Gemma4ForCausalLM, Gemma4TextConfig, GenerationConfig

    config = Gemma4TextConfig(vocab_size=vocab_size, vocab_size_per_layer_input=vocab_size,
                              pad_token_id=PAD, bos_token_id=BOS, eos_token_id=[END, EOS],
                              **CONFIG)
    torch.manual_seed(seed)
    model = Gemma4ForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=BOS, eos_token_id=[END, EOS],
                                               pad_token_id=PAD)
    return model


def write_tiny(out_dir: str | Path, seed: int = SEED) -> Path:
    """Write the tiny model folder (safetensors, tokenizer, chat template, generation config)."""
    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(seed)
    model = build_model(len(tokenizer), seed)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


# Gemma 4's special tokens that the multimodal model's config and chat template name. The
# first four keep the ids of the text model's (pad 0, eos 1, bos 2, unk 3).
GEMMA4_SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<|turn>", "<turn|>", "<|think|>",
                         "<|channel>", "<channel|>", "<|image|>", "<|image>", "<image|>",
                         "<|audio|>", "<|audio>", "<audio|>", "<|video|>"]
TURN_END = GEMMA4_SPECIAL_TOKENS.index("<turn|>")

# Shape of the multimodal model. Text: hidden 256, so that a rank-16 LoRA matrix on it has the
# 4096 entries above which bitsandbytes' 8-bit optimisers keep 8-bit state (smaller tensors get
# 32-bit state); head size 64, a size vLLM's CPU attention kernels take; four layers, sliding
# and global, the last two sharing the keys and values of the first two. The towers are as
# small as their configs allow.
MULTIMODAL_TEXT = dict(
    hidden_size=256,
    intermediate_size=512,
    num_hidden_layers=4,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=64,
    global_head_dim=64,
    layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
    num_kv_shared_layers=2,
    hidden_size_per_layer_input=16,
    sliding_window=128,
    max_position_embeddings=8192,
)
MULTIMODAL_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=16,
                         position_embedding_size=64)
MULTIMODAL_AUDIO = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        subsampling_conv_channels=[8, 4], output_proj_dims=32)


def build_multimodal_model(tokenizer, seed: int = SEED):
    """`Gemma4ForConditionalGeneration` with tiny text, vision and audio configs, in bfloat16
    (the dtype of the hub checkpoints)."""
    import torch
    from transformers import (Gemma4AudioConfig, Gemma4Config, Gemma4ForConditionalGeneration,
                              Gemma4TextConfig, Gemma4VisionConfig, GenerationConfig)

    vocab = len(tokenizer)
    ids = tokenizer.convert_tokens_to_ids
    eos = [EOS, TURN_END]
    text = Gemma4TextConfig(vocab_size=vocab, vocab_size_per_layer_input=vocab, pad_token_id=PAD,
                            bos_token_id=BOS, eos_token_id=eos, **MULTIMODAL_TEXT)
    config = Gemma4Config(
        text_config=text, vision_config=Gemma4VisionConfig(**MULTIMODAL_VISION),
        audio_config=Gemma4AudioConfig(**MULTIMODAL_AUDIO),
        image_token_id=ids("<|image|>"), boi_token_id=ids("<|image>"), eoi_token_id=ids("<image|>"),
        audio_token_id=ids("<|audio|>"), boa_token_id=ids("<|audio>"),
        eoa_token_index=ids("<audio|>"), video_token_id=ids("<|video|>"))
    torch.manual_seed(seed)
    model = Gemma4ForConditionalGeneration(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(bos_token_id=BOS, eos_token_id=eos, pad_token_id=PAD)
    return model


def write_tiny_multimodal(out_dir: str | Path, seed: int = SEED) -> Path:
    """Write the multimodal model folder (safetensors, tokenizer, Gemma-4-style chat template,
    generation config), as a hub checkpoint would be laid out for `model.source: FOLDER`."""
    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(seed, special_tokens=GEMMA4_SPECIAL_TOKENS, eos_token="<eos>",
                                chat_template=TINY_GEMMA4_CHAT_TEMPLATE)
    model = build_multimodal_model(tokenizer, seed)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
