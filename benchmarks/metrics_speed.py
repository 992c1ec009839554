"""Wall time of `bias-judge metrics` on a synthetic 300-pair × 7-run predictions file.

Target: < 2 s for the whole command without interpreter start-up (1,000 bootstrap resamples
for every metric). Run: python benchmarks/metrics_speed.py [--pairs 300] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bias_judge.core.vocabulary import BUCKETS, RUNS, VERDICTS

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = ["age", "disability_status", "gender_identity", "nationality", "ses"]


def synthetic(n: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    pairs, preds = [], []
    for i in range(n):
        ood = i >= n * 0.8
        gold = rng.choice(VERDICTS)
        pairs.append({
            "pair_id": f"{i:016x}", "question_id": f"q::{i}", "question_text": "Who?",
            "answer_choices": [{"letter": L, "text": L} for L in "ABC"],
            "bias_category": "religion" if ood else rng.choice(CATEGORIES),
            "response_a": {"model": "m1", "text": " ".join(["w"] * rng.randint(20, 200))},
            "response_b": {"model": "m2", "text": " ".join(["w"] * rng.randint(20, 200))},
            "pair_category": rng.choice(BUCKETS),
            "eval_slice": "ood_religion" if ood else "in_dist",
            "gold_verdict": gold, "gold_source": "rule"})
        for run in RUNS:
            verdict = gold if rng.random() < 0.7 else rng.choice([*VERDICTS, None])
            preds.append({"pair_id": f"{i:016x}", "checkpoint": "base", "run": run,
                          "verdict": verdict, "raw_output": "x" * 400,
                          "settings": {"engine": "vllm", "temperature": 0.0, "seed": 0,
                                       "max_new_tokens": 1024, "dtype": "bfloat16"}})
    return pairs, preds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=300)
    ap.add_argument("--resamples", type=int, default=1000)
    args = ap.parse_args()
    pairs, preds = synthetic(args.pairs)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, rows in (("eval.jsonl", pairs), ("pred.jsonl", preds)):
            (tmp / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
        argv = ["--eval-set", str(tmp / "eval.jsonl"), "--predictions", str(tmp / "pred.jsonl"),
                "--out", str(tmp / "m.json"), "--confusion", str(tmp / "c.json"),
                "--resamples", str(args.resamples), "--params", str(REPO / "params.yaml")]

        from bias_judge.evaluation.eval_sets import load_eval_set, load_predictions
        from bias_judge.evaluation.metrics import compute_metrics
        from bias_judge.stages.metrics import command

        t0 = time.perf_counter()
        command.main(argv, standalone_mode=False)
        in_process = time.perf_counter() - t0

        eval_rows = load_eval_set(tmp / "eval.jsonl")
        pred_rows = load_predictions(tmp / "pred.jsonl", eval_rows)
        t0 = time.perf_counter()
        compute_metrics(eval_rows, pred_rows, seed=0, resamples=args.resamples)
        compute_only = time.perf_counter() - t0

        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bias_judge.stages.cli", "metrics", *argv],
                       check=True, capture_output=True)
        with_startup = time.perf_counter() - t0

    print(f"{args.pairs} pairs x {len(RUNS)} runs, {args.resamples} resamples per metric")
    print(f"  command in-process (load + validate + compute + write): {in_process:.3f} s")
    print(f"  compute_metrics alone:                                  {compute_only:.3f} s")
    print(f"  `bias-judge metrics` as a fresh process:                {with_startup:.3f} s")


if __name__ == "__main__":
    main()
