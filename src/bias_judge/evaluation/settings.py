"""The params section `eval` as a typed model (read by the evaluate stage, the seven passes,
`judge`, the probes, the demo and the on-policy rows)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from bias_judge.core.settings import Dtype, EngineOptions, NonEmptyStr, Section, Seed, one_of
from bias_judge.core.vocabulary import ENGINES, SPLIT_SET

SetName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class EvalSettings(Section):
    """params section `eval`."""
    engine: one_of(ENGINES) = Field(description=(
        "auto: vLLM if installed and able to run the model, else transformers; openai: the "
        "OpenAI-compatible server at base_url; ray: the workers of a Ray cluster "
        "(engine_options.ray_*), each holding an in-process engine"))
    base_url: str | None = Field(pattern=r"^https?://[^/]", description=(
        "the server engine 'openai' sends its requests to (e.g. http://127.0.0.1:8000 for "
        "`vllm serve`); read only when engine is openai"))
    dtype: Dtype
    max_model_len: int = Field(ge=16, description=(
        "context; longer prompts are counted and skipped, never truncated"))
    max_new_tokens: int = Field(ge=1)
    sample_temperature: float = Field(gt=0)
    seed: Seed
    guided: bool = Field(description=(
        "hold every reply to the judge format with vLLM structured outputs (a base model that "
        "cannot follow the format still gets a verdict); false = the published "
        "free-generation protocol"))
    probabilities: bool = Field(description=(
        "read the verdict probabilities (A, B, TIE) of each greedy reply from the model's "
        "next-token distribution after the verdict tag, in both orders, and score their "
        "average as an extra protocol with calibration and the coverage-agreement curve; "
        "false for a server without completion logprobs"))
    split_set: bool = Field(description=(
        "evaluate the split's own eval set (set name 'split') besides the human_sets"))
    human_sets: dict[SetName, NonEmptyStr] = Field(
        description="name -> human-labelled eval set (published holdout format)",
        json_schema_extra={"propertyNames": {"pattern": r"^[a-z0-9][a-z0-9_-]*$",
                                             "not": {"const": SPLIT_SET}},
                           "additionalProperties": {"type": "string", "minLength": 1}})
    max_pairs: int | None = Field(ge=1, description=(
        "deterministic per-slice subset of each eval set; null = all pairs"))
    batch_size: int = Field(ge=1)
    bootstrap_resamples: int = Field(ge=0)
    engine_options: EngineOptions

    model_config = {**Section.model_config, "json_schema_extra": {"allOf": [
        {"if": {"properties": {"engine": {"const": "openai"}}, "required": ["engine"]},
         "then": {"properties": {"base_url": {"type": "string"}}}}]}}

    @model_validator(mode="after")
    def _names(self) -> Any:
        if SPLIT_SET in self.human_sets:
            raise ValueError(f"human_sets: '{SPLIT_SET}' names the split's own set")
        if self.engine == "openai" and self.base_url is None:
            raise ValueError("engine openai needs base_url")
        return self
