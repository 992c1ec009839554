"""The sft and dpo stages as one call each: process set-up, training, the summary.

Imports nothing heavy at module level: `start` may re-execute the process (runtime.apply)
and must run before torch is imported.
"""

from __future__ import annotations

import os

from bias_judge.models.settings import DPOSettings, ModelSettings, SFTSettings
from bias_judge.models.training import Base, Outputs, named_in


def start(model: ModelSettings) -> None:
    """Threads and allocator in force (may re-execute this command once), and the progress
    bars of datasets/transformers only when bias_judge's own would show."""
    from bias_judge.core.progress import progress_enabled
    from bias_judge.models import runtime

    runtime.apply(model.threads, model.allocator)
    if not progress_enabled():
        import datasets
        import transformers
        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()


def run_sft(model: ModelSettings, s: SFTSettings, model_dir: str | os.PathLike,
            rows_path: str | os.PathLike, outputs: Outputs) -> dict:
    start(model)
    from bias_judge.models.sft import train_sft

    with named_in("sft"):
        return train_sft(Base(str(model_dir), model), s, str(rows_path), outputs)


def run_dpo(model: ModelSettings, s: DPOSettings, model_dir: str | os.PathLike,
            sft_adapter: str | os.PathLike, rows_path: str | os.PathLike,
            outputs: Outputs) -> dict:
    start(model)
    from bias_judge.models.dpo import train_dpo

    with named_in("dpo"):
        return train_dpo(Base(str(model_dir), model), s, str(sft_adapter), str(rows_path),
                         outputs)
