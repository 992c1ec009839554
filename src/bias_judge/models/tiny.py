"""A tiny random-initialised Gemma-4-architecture judge for tests and the CI smoke profile.

It learns nothing useful; it exists so that every training code path (tokenising with a chat
template, completion-only loss, LoRA, checkpoints, merging) runs in seconds. The tokenizer is
trained here, on judge-like text, so nothing is downloaded.
"""

from __future__ import annotations

import random
from pathlib import Path

from bias_judge.models.chat_templates import TINY_CHAT_TEMPLATE

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


def build_tokenizer(seed: int = SEED):
    """A byte-level BPE tokenizer trained on `corpus()`, wrapped with the tiny chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus(seed=seed), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<end_of_turn>", pad_token="<pad>",
        unk_token="<unk>", chat_template=TINY_CHAT_TEMPLATE, model_max_length=CONFIG["max_position_embeddings"])


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
