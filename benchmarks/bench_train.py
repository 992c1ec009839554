"""LoRA SFT speed on CPU: TRL's defaults vs this project's CPU settings, same rows, same model.

    python benchmarks/bench_train.py [--rows data/rows/sft.jsonl] [--model models/base] [--n 32]

Trains SmolLM2-135M-Instruct (materialised from `gguf:smollm2` when --model is not given or
absent) on the same 32 judge rows twice, each in a fresh process so that the allocator and
thread settings apply from start-up:

- `trl-defaults`: `SFTConfig()` as TRL ships it (batch 8, gradient checkpointing on, bf16
  autocast on, fp32 weights, torch's default thread count, the system allocator), plus only
  what any run needs (output dir, `use_cpu=True` without which TRL's bf16 default refuses to
  start on a GPU-less machine, 1 epoch, no checkpoint saving, max_length 2048 so no row is
  cut).
- `project-cpu`: the `model` and `sft` sections of params.yaml (the committed cpu profile):
  its batch, precision, weight dtype, checkpointing, threads and allocator (jemalloc when
  libjemalloc2 is installed), plus the reply-only LM head the sft stage installs on CPU
  (`bias_judge.models.lm_head`).

Both use the same LoRA adapter (params.yaml's r, alpha, dropout, target modules). Prints
non-padding tokens/s, wall time and peak RSS of each, and the ratio. Issue 9 aims at >= 3x;
2026-11-30 on 2 cores, both at 2 threads: 254.8 vs 114.7 tokens/s, 2.22x.
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
CONFIGS = ("trl-defaults", "project-cpu")


def child(config: str, rows_path: str, model_dir: str, n: int, params_path: str) -> dict:
    """One training run in this process; returns its measurements."""
    from bias_judge.core.jsonio import read_jsonl
    from bias_judge.core.settings import read_settings
    from bias_judge.models import runtime
    from bias_judge.models.folder import load_tokenizer
    from bias_judge.models.lora import lora_config
    from bias_judge.models.settings import ModelSettings, SFTSettings
    from bias_judge.models.training import Base, load_base, trainer_kwargs

    p = read_settings(params_path, {"model": ModelSettings, "sft": SFTSettings})
    base, sft = Base(model_dir, p["model"]), p["sft"]
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
    if config == "trl-defaults":
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        # use_cpu: without it TRL's default bf16=True refuses to start on a machine without a GPU.
        args = SFTConfig(output_dir=out, use_cpu=True, **common)
    else:
        model = load_base(base)
        kwargs = trainer_kwargs(sft, Path(out))
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
    from bias_judge.models.runtime import wanted_env
    params = yaml.safe_load(Path(args.params).read_text())
    results = []
    for config in ([args.only] if args.only else CONFIGS):
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "LD_PRELOAD")}
        if config == "project-cpu":
            env.update(wanted_env(int(params["model"].get("threads", 0)), params["model"].get("allocator", "system")))
        cmd = [sys.executable, __file__, "--child", config, "--rows", args.rows, "--model", model,
               "--params", args.params, "--n", str(args.n)]
        print(f"running {config} ...", file=sys.stderr)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            sys.exit(f"error: {config} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(line[len("RESULT "):]))
        print(f"  {config}: {results[-1]['tokens_per_s']} tokens/s", file=sys.stderr)

    keys = ("tokens_per_s", "wall_s", "peak_rss_gb", "tokens", "mean_loss", "batch", "grad_accum",
            "bf16", "gradient_checkpointing", "weights_dtype", "threads", "allocator")
    width = max(len(k) for k in keys)
    print(f"{'':{width}}  " + "  ".join(f"{r['config']:>14}" for r in results))
    for k in keys:
        print(f"{k:{width}}  " + "  ".join(f"{str(r[k]):>14}" for r in results))
    if len(results) == 2:
        ratio = results[1]["tokens_per_s"] / results[0]["tokens_per_s"]
        print(f"\nspeed-up project-cpu / trl-defaults: {ratio:.2f}x (aim: >= 3x)")


if __name__ == "__main__":
    main()
