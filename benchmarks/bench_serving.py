"""Pairs judged per second: in-process vLLM vs the same checkpoint behind a vLLM server.

    python benchmarks/bench_serving.py --model models/dpo/merged \
        --pairs ../shared/data/judge-pairs/eval_holdout.jsonl [--n 32] [--concurrency 16]

Judges the first N pairs with the swap check (2N greedy prompts) through `judge_pairs`, once
with the in-process vLLM engine, then through a `vllm serve`-equivalent server started here on
a free 127.0.0.1 port (the openai engine, --concurrency requests in flight), optionally also
with transformers and with a local Ray cluster of one and of two workers, each holding a
--ray-inner engine (--engines vllm,server,ray1,ray2). Prints pairs/s and generated tokens/s side by side, engine
start-up separately, and how many verdicts the two vLLM routes share. The engines run one
after the other, never together, so each has the machine to itself; timings on shared
machines drift by tens of percent, so compare within one run.
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
    ap.add_argument("--model", default="models/dpo/merged", help="checkpoint folder")
    ap.add_argument("--pairs", default="../shared/data/judge-pairs/eval_holdout.jsonl",
                    help="pairs JSONL (judge_input fields); the first --n are judged")
    ap.add_argument("--n", type=int, default=32, help="pairs (each judged in both orders)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--max-model-len", type=int, default=2048)
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32", "auto"])
    ap.add_argument("--concurrency", type=int, default=64,
                    help="server: requests in flight (at 16 of 64 prompts the server ran at "
                         "0.6x in-process here, at 64 on par)")
    ap.add_argument("--engines", default="vllm,server",
                    help="comma list of vllm, server, transformers, ray1, ray2 (rayN: a local "
                         "Ray cluster with N workers)")
    ap.add_argument("--ray-inner", default="auto", choices=["auto", "vllm", "transformers"],
                    help="the engine each Ray worker holds")
    ap.add_argument("--server-log", default=None, help="keep the server's log here")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    return ap.parse_args(argv)


def run(kind: str, args, pairs, settings) -> dict:
    from contextlib import ExitStack

    from bias_judge.evaluation.inference import load_engine
    from bias_judge.evaluation.judge import judge_pairs

    with ExitStack() as stack:
        t0 = time.monotonic()
        if kind == "server":
            from bias_judge.evaluation.serve import vllm_server
            url = stack.enter_context(vllm_server(args.model, dtype=args.dtype,
                                                  max_model_len=args.max_model_len,
                                                  log=args.server_log))
            engine = load_engine(args.model, engine="openai", dtype=args.dtype,
                                 max_model_len=args.max_model_len, seed=0, base_url=url,
                                 concurrency=args.concurrency, max_retries=2)
        elif kind.startswith("ray"):
            engine = load_engine(args.model, engine="ray", dtype=args.dtype,
                                 max_model_len=args.max_model_len, seed=0,
                                 ray_workers=int(kind[3:]), ray_engine=args.ray_inner,
                                 enforce_eager=True, batch_size=16, threads=1)
        else:
            engine = load_engine(args.model, engine=kind, dtype=args.dtype,
                                 max_model_len=args.max_model_len, seed=0, enforce_eager=True,
                                 batch_size=16, threads=1)
        stack.callback(engine.close)
        start_s = time.monotonic() - t0
        # One short request first, so lazy initialisation is not billed to the measurement.
        engine.generate([[{"role": "user", "content": "Hi"}]], temperature=0.0, max_new_tokens=2)
        t0 = time.monotonic()
        report = judge_pairs(engine, pairs, settings, desc=kind)
        seconds = time.monotonic() - t0
    tokens = report.generated_tokens
    return {"route": kind, "start_s": round(start_s, 1), "seconds": round(seconds, 2),
            "pairs": len(pairs), "pairs_per_s": round(len(pairs) / seconds, 3),
            "generated_tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
            "verdicts": [r["verdict"] for r in report.rows]}


def main(argv=None) -> int:
    args = parse_args(argv)
    from bias_judge.core.jsonio import read_jsonl
    from bias_judge.core.params import load_params
    from bias_judge.evaluation.inference import vllm_available
    from bias_judge.evaluation.judge import JudgeSettings

    style = load_params(REPO / "params.yaml")["prompt"]["style"]  # the judge prompt in use
    pairs = read_jsonl(args.pairs, schema="judge_input")[: args.n]
    # Every prompt in one engine call: vLLM schedules them itself, the server gets
    # --concurrency of them at a time.
    settings = JudgeSettings(prompt_style=style, max_new_tokens=args.max_new_tokens,
                             sample_temperature=0.3, seed=0, swap_check=True, samples=0,
                             guided=False, batch_size=2 * len(pairs))
    results = []
    for kind in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if kind in ("vllm", "server") and not vllm_available():
            print(f"{kind}: vllm not installed, skipped", file=sys.stderr)
            continue
        res = run(kind, args, pairs, settings)
        results.append(res)
        print(f"{kind:>12}: {res['pairs_per_s']:7.3f} pairs/s  {res['tokens_per_s']:7.1f} "
              f"generated tokens/s  ({res['pairs']} pairs in {res['seconds']} s; start "
              f"{res['start_s']} s)", flush=True)
    by = {r["route"]: r for r in results}
    summary = {"model": args.model, "dtype": args.dtype, "pairs": len(pairs),
               "max_new_tokens": args.max_new_tokens, "concurrency": args.concurrency,
               "cpu_count": os.cpu_count(),
               "results": [{k: v for k, v in r.items() if k != "verdicts"} for r in results]}
    print("\n" + f"{'route':>12} | {'pairs/s':>8} | {'tokens/s':>8} | {'start s':>7}")
    for r in results:
        print(f"{r['route']:>12} | {r['pairs_per_s']:8.3f} | {r['tokens_per_s']:8.1f} | "
              f"{r['start_s']:7.1f}")
    if "vllm" in by and "server" in by:
        here, there = by["vllm"]["verdicts"], by["server"]["verdicts"]
        same = sum(a == b for a, b in zip(here, there))
        summary["server_over_in_process"] = round(by["server"]["pairs_per_s"]
                                                  / by["vllm"]["pairs_per_s"], 2)
        summary["same_verdicts"] = same
        summary["verdicts_given"] = {"vllm": sum(v is not None for v in here),
                                     "server": sum(v is not None for v in there)}
        print(f"server / in-process = {summary['server_over_in_process']:.2f}x; "
              f"same verdict on {same}/{len(pairs)} pairs (a verdict, not a parse failure, on "
              f"{summary['verdicts_given']['vllm']} in-process and "
              f"{summary['verdicts_given']['server']} served)")
    if "ray1" in by and "ray2" in by:
        summary["ray2_over_ray1"] = round(by["ray2"]["pairs_per_s"] / by["ray1"]["pairs_per_s"], 2)
        same = sum(a == b for a, b in zip(by["ray1"]["verdicts"], by["ray2"]["verdicts"]))
        print(f"ray, two workers / one = {summary['ray2_over_ray1']:.2f}x on {os.cpu_count()} "
              f"CPUs; same verdict on {same}/{len(pairs)} pairs")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2)
    return 0


if __name__ == "__main__":  # vLLM spawns its engine process: keep the guard
    sys.exit(main())
