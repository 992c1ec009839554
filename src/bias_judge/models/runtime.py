"""Process-level speed settings for CPU training: thread count and the jemalloc allocator.

On the 2-core machines this project was measured on, one torch thread is far steadier than
the default two under other load, and preloading jemalloc was the largest single CPU training
gain (SmolLM2 1.3x, Gemma-3-270M 1.7x; docs/stack.md). Both must be set before torch starts, so the
stage re-executes itself once with them in its environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_REEXEC_GUARD = "BIAS_JUDGE_TRAIN_ENV"
JEMALLOC_PATHS = (
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/lib/libjemalloc.so.2",
    "/usr/local/lib/libjemalloc.so.2",
)


def find_jemalloc() -> str | None:
    for path in JEMALLOC_PATHS:
        if Path(path).is_file():
            return path
    return None


def wanted_env(threads: int, allocator: str) -> dict[str, str]:
    """Environment changes still missing for these settings (empty when already in place)."""
    env: dict[str, str] = {}
    if threads > 0 and os.environ.get("OMP_NUM_THREADS") != str(threads):
        env["OMP_NUM_THREADS"] = str(threads)
    if threads != 1 and "OMP_WAIT_POLICY" not in os.environ:
        # Spinning OpenMP workers are what make several threads collapse when another process
        # takes a core (measured: 2 threads fell from ~300 to 20 tokens/s beside one busy
        # process; with passive waiting they kept the speed of 1 thread).
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    if allocator == "jemalloc":
        lib = find_jemalloc()
        preload = os.environ.get("LD_PRELOAD", "")
        if lib and lib not in preload.split(":"):
            env["LD_PRELOAD"] = f"{lib}:{preload}" if preload else lib
    return env


def _is_command_line_entry() -> bool:
    # Only a real `bias-judge ...` process may replace itself; inside pytest, a notebook or an
    # accelerate/torchrun worker the settings are applied in-process instead.
    if os.environ.get("LOCAL_RANK") is not None:
        return False
    name = Path(sys.argv[0]).name if sys.argv else ""
    return name in ("bias-judge", "cli.py")


def apply(threads: int, allocator: str) -> str:
    """Put the settings in force; returns how ("re-exec" never returns). With allocator
    jemalloc and no libjemalloc2 installed, training runs on the system allocator."""
    env = wanted_env(threads, allocator)
    if env and _is_command_line_entry() and not os.environ.get(_REEXEC_GUARD):
        os.environ.update(env)
        os.environ[_REEXEC_GUARD] = "1"
        from bias_judge.core.progress import restore_terminal

        restore_terminal()  # the new process opens its own engine log
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    if threads > 0:
        import torch
        torch.set_num_threads(threads)
    preload = os.environ.get("LD_PRELOAD", "")
    return "jemalloc" if "jemalloc" in preload else "system"


def hardware() -> str:
    import torch
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        return f"{n}x {torch.cuda.get_device_name(0)}"
    return f"cpu: {os.cpu_count()} cores"


def start(model) -> None:
    """A training stage's process set-up (`model`: ModelSettings): threads and allocator in
    force, which may re-execute the command once. The progress bars of datasets and
    transformers stay off: the stage shows its own step bar (callbacks.StepBar), and theirs
    would only fill the engine log with carriage returns."""
    apply(model.threads, model.allocator)
    import datasets
    import transformers
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
