"""The params section `eval` as typed settings, field for field (read by the evaluate stage
and the seven passes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalSettings:
    """params section `eval`."""
    engine: str                  # auto | vllm | transformers | openai
    base_url: str | None         # engine openai: the OpenAI-compatible server's URL
    dtype: str
    max_model_len: int           # longer prompts are counted and skipped, never truncated
    max_new_tokens: int
    sample_temperature: float
    seed: int
    guided: bool                 # vLLM structured outputs hold replies to the judge format
    probabilities: bool          # verdict probabilities of the greedy replies (docs/trust.md)
    split_set: bool              # evaluate the split's own eval set as set "split"
    human_sets: dict[str, str]   # name -> human-labelled eval set
    max_pairs: int | None        # deterministic per-slice subset of each set
    batch_size: int
    bootstrap_resamples: int
    engine_options: dict
