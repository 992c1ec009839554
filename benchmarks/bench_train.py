"""LoRA SFT speed on CPU: TRL's defaults vs this project's CPU settings, same rows, same model.

    python benchmarks/bench_train.py [--rows data/rows/sft.jsonl] [--model models/base] [--n 32]

Prints the CPU, whether it computes bf16 natively and what the project's `auto` precision
resolves to (docs/precision.md), then trains SmolLM2-135M-Instruct (materialised from
`gguf:smollm2` when --model is not given or absent) on the same judge rows, each
configuration in a fresh process so that the allocator and thread settings apply from start-up:

- `trl-defaults`: `SFTConfig()` as TRL ships it (batch 8, gradient checkpointing on, bf16
  autocast on, fp32 weights, torch's default thread count, the system allocator), plus only
  what any run needs (output dir, `use_cpu=True` without which TRL's bf16 default refuses to
  start on a GPU-less machine, 1 epoch, no checkpoint saving, max_length 2048 so no row is
  cut).
- `trl-fp32` (only where this CPU emulates bf16): the same with `bf16=False`. TRL's bf16
  default is ~40x slower there, so a ratio against it alone would mostly measure emulation;
  the headline ratio is then the one against `trl-fp32`.
- `project-cpu`: the `model` and `sft` sections of params.yaml (the committed cpu profile):
  its batch, precision as resolved here, weight dtype, checkpointing, threads and allocator
  (jemalloc when libjemalloc2 is installed), plus the reply-only LM head the sft stage
  installs on CPU (`bias_judge.models.lm_head`).

All use the same LoRA adapter (params.yaml's r, alpha, dropout, target modules). Prints
non-padding tokens/s, wall time, peak RSS and the precision of each, and the ratios. Where
bf16 is emulated, `trl-defaults` trains on `--emulated-n` rows only (tokens/s is a rate; the
rows line says how many). To see an AVX2-only CPU on a newer one, cap the kernels:
`ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2`.
Timings on shared 2-core machines drift by up to +-30 %: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ("trl-defaults", "trl-fp32", "project-cpu")


def child(config: str, rows_path: str, model_dir: str, n: int, params_path: str) -> dict:
    """One training run in this process; returns its measurements."""
    from bias_judge.core.jsonio import read_jsonl
    from bias_judge.core.settings import read_settings
    from bias_judge.models import runtime
    from bias_judge.models.folder import load_tokenizer
    from bias_judge.models.lora import lora_config
    from bias_judge.models.settings import ModelSettings, SFTSettings
    from bias_judge.models.training import Base, load_base, resolve_precision, trainer_kwargs

    p = read_settings(params_path, {"model": ModelSettings, "sft": SFTSettings})
    model_settings, sft, _ = resolve_precision(p["model"], p["sft"], "sft")  # as the sft stage
    base = Base(model_dir, model_settings)
    if config == "project-cpu":
        runtime.apply(base.model.threads, "system")  # jemalloc was preloaded by the parent, if any

    import datasets
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    datasets.disable_progress_bars()
    rows = read_jsonl(rows_path, schema="sft_row")[:n]
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    tokenizer = load_tokenizer(model_dir)
    out = tempfile.mkdtemp(prefix="bench-train-")
    common = dict(num_train_epochs=1, max_steps=-1, save_strategy="no", report_to="none",
                  include_num_input_tokens_seen="non_padding", disable_tqdm=True, max_length=2048,
                  seed=sft.seed)
    if config in ("trl-defaults", "trl-fp32"):
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        # use_cpu: without it TRL's default bf16=True refuses to start on a machine without a GPU.
        args = SFTConfig(output_dir=out, use_cpu=True, **common,
                         **({"bf16": False} if config == "trl-fp32" else {}))
    else:
        model = load_base(base)
        kwargs = trainer_kwargs(sft, Path(out), SFTConfig)
        kwargs.update(common)
        args = SFTConfig(**kwargs)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(sft.lora.r, sft.lora.alpha, sft.lora.dropout,
                                                 sft.lora.target_modules))
    if config == "project-cpu":
        from bias_judge.models import lm_head
        lm_head.install_on_cpu(trainer)  # what the sft stage does on CPU
    t0 = time.perf_counter()
    result = trainer.train()
    wall = time.perf_counter() - t0
    import torch
    return {
        "config": config,
        "rows": len(rows),
        "tokens": trainer.state.num_input_tokens_seen,
        "wall_s": round(wall, 1),
        "tokens_per_s": round(trainer.state.num_input_tokens_seen / wall, 1),
        "mean_loss": round(result.training_loss, 4),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "batch": args.per_device_train_batch_size,
        "grad_accum": args.gradient_accumulation_steps,
        "bf16": args.bf16,
        "precision": ("bf16" if args.bf16 else "fp16" if args.fp16 else "fp32") + " autocast",
        "gradient_checkpointing": args.gradient_checkpointing,
        "weights_dtype": str(model.dtype).replace("torch.", ""),
        "threads": torch.get_num_threads(),
        "allocator": "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "system",
    }


def ensure_model(model: str | None) -> str:
    if model and Path(model).is_dir():
        return model
    from bias_judge.models.materialize import materialize
    out = Path(tempfile.mkdtemp(prefix="bench-base-")) / "base"
    print("materialising gguf:smollm2 ...", file=sys.stderr)
    materialize("gguf:smollm2", out)
    return str(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default=str(REPO / "data/rows/sft.jsonl"), help="SFT rows (sft_row schema)")
    ap.add_argument("--model", default=str(REPO / "models/base"),
                    help="a materialised SmolLM2 folder (default: models/base, else built from gguf:smollm2)")
    ap.add_argument("--params", default=str(REPO / "params.yaml"))
    ap.add_argument("--n", type=int, default=32, help="rows to train on (default 32)")
    ap.add_argument("--emulated-n", type=int, default=4,
                    help="rows for TRL's bf16 default where this CPU emulates bf16 (default 4)")
    ap.add_argument("--only", choices=CONFIGS, help="run one configuration")
    ap.add_argument("--child", choices=CONFIGS, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.rows, args.model, args.n, args.params)))
        return
    if not Path(args.rows).is_file():
        sys.exit(f"error: {args.rows}: no SFT rows (run `dvc repro format` first, or pass --rows)")
    model = ensure_model(args.model)

    import yaml
    from bias_judge.core import precision
    from bias_judge.models.runtime import wanted_env
    params = yaml.safe_load(Path(args.params).read_text())
    device = precision.detect()
    resolved = precision.resolve_precision(params["sft"]["precision"], device)
    print(f"cpu: {device.describe()}; {os.cpu_count()} cores", flush=True)
    print(f"project precision: sft.precision {params['sft']['precision']} -> {resolved}, "
          f"model.dtype {params['model']['dtype']} -> "
          f"{precision.resolve_dtype(params['model']['dtype'], device)}", flush=True)
    configs = [c for c in CONFIGS if c != "trl-fp32" or not device.native_bf16]
    results = []
    for config in ([args.only] if args.only else configs):
        n = args.n if config != "trl-defaults" or device.native_bf16 else min(args.n, args.emulated_n)
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "LD_PRELOAD")}
        if config == "project-cpu":
            env.update(wanted_env(int(params["model"].get("threads", 0)), params["model"].get("allocator", "system")))
        cmd = [sys.executable, __file__, "--child", config, "--rows", args.rows, "--model", model,
               "--params", args.params, "--n", str(n)]
        print(f"running {config} ...", file=sys.stderr)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            sys.exit(f"error: {config} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(line[len("RESULT "):]))
        print(f"  {config}: {results[-1]['tokens_per_s']} tokens/s", file=sys.stderr)

    keys = ("tokens_per_s", "rows", "wall_s", "peak_rss_gb", "tokens", "mean_loss", "batch",
            "grad_accum", "precision", "gradient_checkpointing", "weights_dtype", "threads",
            "allocator")
    width = max(len(k) for k in keys)
    print(f"{'':{width}}  " + "  ".join(f"{r['config']:>14}" for r in results))
    for k in keys:
        print(f"{k:{width}}  " + "  ".join(f"{str(r[k]):>14}" for r in results))
    speed = {r["config"]: r["tokens_per_s"] for r in results}
    if "project-cpu" in speed:
        print()
        for other in ("trl-defaults", "trl-fp32"):
            if other in speed:
                note = " (TRL's bf16 emulated here)" if other == "trl-defaults" and not device.native_bf16 else ""
                print(f"speed-up project-cpu / {other}: {speed['project-cpu'] / speed[other]:.2f}x{note}")
        fair = "trl-defaults" if device.native_bf16 else "trl-fp32"
        if fair in speed:
            print(f"headline (against TRL as fast as it runs here, {fair}): "
                  f"{speed['project-cpu'] / speed[fair]:.2f}x (aim: >= 3x)")


if __name__ == "__main__":
    main()
