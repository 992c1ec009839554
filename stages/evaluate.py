"""Stage `evaluate`: one checkpoint, seven judge passes per eval pair, metrics per eval set.

    bias-judge evaluate --checkpoint base --model models/base --eval-set data/split/eval.jsonl \
        --out-dir eval/base --metrics metrics/eval_base.json [--params params.yaml]

writes, for the split's eval set (set name "split") and each `eval.human_sets` entry NAME:
OUT_DIR/NAME.predictions.jsonl (schema predictions), OUT_DIR/NAME.meta.json, and
OUT_DIR/confusion_NAME.json (`dvc plots` confusion data); then METRICS =
{"checkpoint", "sets": {NAME: one-set metrics (schema eval_metrics)}}. Verbosity bias counts
tokens with the checkpoint's own tokenizer.
params section `eval`: engine, dtype, max_model_len, max_new_tokens, sample_temperature,
samples, seed, human_sets {name: path}, max_pairs, batch_size, bootstrap_resamples,
engine_options. Without --params the published settings apply (vLLM if installed, bf16,
4096 context, 1024 new tokens, T 0.3, all pairs).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from bias_judge import jsonio
from bias_judge.errors import InputError
from bias_judge.stages.common import one_line_errors, params_option, stage_params

SPLIT_SET = "split"
PUBLISHED = {
    "engine": "auto",
    "dtype": "bfloat16",
    "max_model_len": 4096,
    "max_new_tokens": 1024,
    "sample_temperature": 0.3,
    "samples": 5,
    "seed": 42,
    "split_set": True,
    "guided": False,
    "human_sets": {},
    "max_pairs": None,
    "batch_size": 16,
    "bootstrap_resamples": 1000,
    "engine_options": {},
}


def eval_sets(split_path: str, human_sets: dict[str, str], split_set: bool = True) -> dict[str, str]:
    if SPLIT_SET in human_sets:
        raise InputError(f"the name '{SPLIT_SET}' is taken by the split's own eval set",
                         field=f"eval.human_sets.{SPLIT_SET}")
    sets = {SPLIT_SET: split_path, **human_sets} if split_set else dict(human_sets)
    if not sets:
        raise InputError("nothing to evaluate: split_set is false and human_sets is empty",
                         field="eval.split_set")
    return sets


@click.command(help="Run the seven judge passes of one checkpoint over the eval sets and "
                    "compute its metrics.")
@click.option("--checkpoint", required=True, help="Checkpoint name (base, sft, dpo).")
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
              help="Model folder: weights, tokenizer with chat template.")
@click.option("--eval-set", "eval_set", required=True, type=click.Path(dir_okay=False),
              help="The split's eval set (eval_pair JSONL).")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Folder for predictions and confusion data.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(dir_okay=False),
              help="Per-checkpoint metrics JSON.")
@params_option
@one_line_errors
def command(checkpoint: str, model_dir: str, eval_set: str, out_dir: str, metrics_path: str,
            params_path: str | None) -> None:
    from bias_judge.eval_sets import load_eval_set
    from bias_judge.evaluation import PassSettings, run_passes, select_pairs
    from bias_judge.inference import check_checkpoint, load_engine, resolve_engine
    from bias_judge.metrics import compute_metrics, confusion_records
    from bias_judge.schema import first_error, validator_for

    p = stage_params(params_path, "eval") or PUBLISHED
    style = (stage_params(params_path, "prompt") or {"style": "published"})["style"]
    settings = PassSettings(max_new_tokens=p["max_new_tokens"],
                            sample_temperature=p["sample_temperature"], samples=p["samples"],
                            seed=p["seed"], batch_size=p["batch_size"], prompt_style=style,
                            guided=p["guided"])
    # Every input is checked before the (slow) engine start.
    sets = {name: (path, load_eval_set(path))
            for name, path in eval_sets(eval_set, p["human_sets"], p["split_set"]).items()}
    check_checkpoint(model_dir)
    if settings.guided and resolve_engine(p["engine"], model_dir) != "vllm":
        raise InputError("guided decoding needs the vLLM engine (structured outputs); the "
                         "transformers engine cannot hold replies to the judge format",
                         field="eval.guided")

    out = Path(out_dir)
    started = time.monotonic()
    engine = load_engine(model_dir, engine=p["engine"], dtype=p["dtype"],
                         max_model_len=p["max_model_len"], seed=p["seed"],
                         batch_size=p["batch_size"], **p.get("engine_options", {}))
    click.echo(f"evaluate {checkpoint}: {engine.name} engine, {engine.dtype}, loaded in "
               f"{time.monotonic() - started:.0f} s", err=True)
    results: dict[str, dict] = {}
    try:
        for name, (path, rows) in sets.items():
            pairs = select_pairs(rows, p["max_pairs"], p["seed"])
            t0 = time.monotonic()
            report = run_passes(engine, pairs, checkpoint=checkpoint, settings=settings,
                                desc=f"{checkpoint}/{name}")
            seconds = time.monotonic() - t0
            predictions = out / f"{name}.predictions.jsonl"
            jsonio.write_jsonl(predictions, report.rows, schema="predictions")
            summary = report.summary()
            jsonio.write_meta(predictions, {
                "artifact": predictions.name,
                "rows": len(report.rows),
                "seed": p["seed"],
                "counts": {**summary, "pairs_in_set": len(rows)},
                "inputs": {path: jsonio.sha256_file(path)},
                "params": {**p, "prompt_style": style},
                "warnings": ([f"{summary['skipped_too_long']} prompt(s) longer than "
                              f"max_model_len {engine.max_model_len} were not generated"]
                             if summary["skipped_too_long"] else []),
            })
            metrics = compute_metrics(pairs, report.rows, count_tokens=engine.count_text_tokens,
                                      tokenizer_name=f"{checkpoint} judge tokenizer",
                                      seed=p["seed"], resamples=p["bootstrap_resamples"])
            metrics["generation"] = {**summary, "pairs_in_set": len(rows)}
            err = first_error(validator_for("eval_metrics"), metrics)
            if err is not None:
                raise InputError(f"metrics for set '{name}' fail schema eval_metrics: {err[1]}",
                                 file=metrics_path, field=err[0])
            results[name] = metrics
            jsonio.write_json(out / f"confusion_{name}.json", confusion_records(pairs, report.rows))
            rate = summary["generated_tokens"] / seconds if seconds > 0 else 0.0
            click.echo(f"evaluate {checkpoint}/{name}: {len(pairs)} pairs ({len(rows)} in set), "
                       f"{summary['parse_failures']} parse failures, "
                       f"{summary['skipped_too_long']} prompts too long, "
                       f"{summary['cut_at_length']} cut at max_new_tokens, "
                       f"{seconds:.0f} s ({rate:.0f} generated tokens/s)", err=True)
    finally:
        engine.close()
    jsonio.write_json(metrics_path, {"checkpoint": checkpoint, "sets": results})
    click.echo(f"evaluate {checkpoint}: done in {time.monotonic() - started:.0f} s -> "
               f"{metrics_path}", err=True)
