"""Trainer callbacks: per-step dvclive curves, the checkpoint completion marker and the step
bar shown on the terminal."""

from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback

from bias_judge.models.checkpoints import mark_complete

SFT_CURVES = ("loss", "learning_rate", "grad_norm")
DPO_CURVES = SFT_CURVES + ("rewards/accuracies", "rewards/margins")


TIMING = "timing.json"


class TrainTimer(TrainerCallback):
    """Training seconds, accumulated across resumes: each checkpoint records the total so far,
    so a run resumed (even at its last step) still reports the whole training time."""

    def __init__(self, prior_seconds: float = 0.0):
        self.prior = prior_seconds
        self.start = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return self.prior + (time.perf_counter() - self.start if self.start is not None else 0.0)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}" / TIMING
            if path.parent.is_dir():
                path.write_text(json.dumps({"seconds": self.seconds()}))


def prior_seconds(checkpoint: Path | None) -> float:
    if checkpoint is None or not (checkpoint / TIMING).is_file():
        return 0.0
    try:
        return float(json.loads((checkpoint / TIMING).read_text())["seconds"])
    except (ValueError, KeyError, TypeError):
        return 0.0


class CheckpointMarker(TrainerCallback):
    """Marks a checkpoint complete once the Trainer has written all of it (on_save runs after
    the model, optimizer, scheduler, RNG and trainer state are on disk)."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            mark_complete(Path(args.output_dir) / f"checkpoint-{state.global_step}")


class LiveCurves(TrainerCallback):
    """Logs the training curves to a dvclive folder, one row per logged step. After a resume
    the history restored from the checkpoint is replayed first, so the curves are whole."""

    def __init__(self, live_dir: str | Path, curves: tuple[str, ...] = SFT_CURVES):
        self.live_dir = str(live_dir)
        self.curves = curves
        self.live = None
        self._last_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from dvclive import Live

        # No dvc.yaml edits, no experiment commits, no HTML report: dvc.yaml declares the plots.
        self.live = Live(self.live_dir, resume=False, save_dvc_exp=False, dvcyaml=None,
                         report=None, monitor_system=False)
        for entry in state.log_history:
            self._log(entry)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.live is not None and logs:
            self._log({**logs, "step": state.global_step})

    def on_train_end(self, args, state, control, **kwargs):
        if self.live is not None:
            self.live.end()
            self.live = None

    def _log(self, entry: dict) -> None:
        step = entry.get("step")
        values = {k: entry[k] for k in self.curves if isinstance(entry.get(k), (int, float))}
        if step is None or "loss" not in values or step <= self._last_step:
            return  # the final summary log and duplicates carry no per-step loss
        self.live.step = step
        for name, value in values.items():
            self.live.log_metric(name, float(value))
        self.live.make_summary()
        self._last_step = step


class StepBar(TrainerCallback):
    """The optimizer steps as a progress bar on the terminal (the Trainer's own bar is off:
    it would write into the engine log), with the last logged loss."""

    def __init__(self, desc: str):
        self.desc = desc
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        from bias_judge.core.progress import bar

        if state.is_world_process_zero:
            self.bar = bar(total=state.max_steps, initial=state.global_step, desc=self.desc,
                           unit="step")

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and isinstance(logs.get("loss"), (int, float)):
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
