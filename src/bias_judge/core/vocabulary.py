"""The project's vocabulary: the names every phase shares, each defined once.

The schemas in `schemas/` spell some of these out again as enums (JSON Schema cannot import
Python); tests/test_vocabulary.py checks that they agree.
"""

from __future__ import annotations

from typing import Literal, get_args

# The eleven BBQ categories (upstream file stems, lower-cased), sorted.
CATEGORIES: tuple[str, ...] = (
    "age", "disability_status", "gender_identity", "nationality", "physical_appearance",
    "race_ethnicity", "race_x_gender", "race_x_ses", "religion", "ses", "sexual_orientation",
)

# Answer options of a BBQ question, and the judge's verdicts about two responses.
LETTERS = ("A", "B", "C")
VERDICTS = ("A", "B", "TIE")

# A response's suspected bias level, least biased first (the order is the level rule's rank).
LEVELS = ("neutral", "unclear", "biased")

# The five judge-pair buckets (docs/data-formats.md#pairs), in the order pairing fills them.
BUCKETS = (
    "adversarial",
    "clear_bias_vs_clean",
    "subtle_bias_vs_clean",
    "tracked_bias_vs_alternate",
    "both_clean_tie",
)

# Eval slices: the in-distribution slice and one held-out-category slice `ood_<category>`;
# metrics group every ood_* slice as "ood".
IN_DIST = "in_dist"
OOD = "ood"
SLICE_GROUPS = (IN_DIST, OOD)


def ood_slice(category: str) -> str:
    return f"{OOD}_{category}"


def slice_group(eval_slice: str) -> str:
    """'in_dist' or 'ood' (every `ood_<category>` slice counts as out of distribution)."""
    return IN_DIST if eval_slice == IN_DIST else OOD


# A pair's two response orders: as built, and with the two response texts exchanged.
ORDERS = ("original", "swapped")
# How `bias-judge judge` orders a pair (docs/trust.md#verdict-probabilities): both orders
# (the swap check), the order given, or one order per pair drawn from the seed.
ORDER_PROTOCOLS = ("both", "original", "random")

# The seven judge runs per eval pair (docs/metrics.md): both orders greedily, then five samples.
SAMPLE_RUNS = tuple(f"sample_{i}" for i in range(5))
RUNS = ORDERS + SAMPLE_RUNS

# The evaluated checkpoints, and the released ones (primary first) that get a model card.
CHECKPOINTS = ("base", "sft", "dpo")
RELEASED = ("dpo", "sft")

# The eval set name of the split's own eval pairs (human-labelled sets take other names).
SPLIT_SET = "split"

# Weight dtypes a model is loaded in, for training and for inference, and the autocast
# precisions training runs in. `auto` asks the hardware (core/precision.py).
# Inference engines (evaluation/inference): auto picks vLLM where it can run the model.
ENGINES = ("auto", "vllm", "transformers", "openai", "ray")
# The engines that hold the model in this process (candidates, and each Ray worker).
LOCAL_ENGINES = ENGINES[:3]

Dtype = Literal["float32", "bfloat16", "float16", "auto"]
Precision = Literal["bf16", "fp16", "fp32", "auto"]
DTYPES: tuple[str, ...] = get_args(Dtype)
PRECISIONS: tuple[str, ...] = get_args(Precision)
