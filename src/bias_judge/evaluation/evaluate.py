"""The evaluate stage: one checkpoint, seven judge passes per eval pair, metrics per eval set.

Every eval set is loaded and checked, and the model folder too, before the (slow) engine
starts; every set's predictions, sidecar, confusion records and metrics are computed (the
metrics checked against their schema) before anything is written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bias_judge.core.artifacts import Output, Sidecar, StageResult, checksums
from bias_judge.core.errors import InputError
from bias_judge.core.progress import note
from bias_judge.core.schema import first_error, validator_for
from bias_judge.core.settings import as_params
from bias_judge.core.vocabulary import SPLIT_SET
from bias_judge.data.prompt import PromptSettings
from bias_judge.evaluation.settings import EvalSettings


def eval_sets(split_path: str | os.PathLike, s: EvalSettings) -> dict[str, str]:
    """{set name: path}: the split's eval set as "split" (when `split_set`) and the human sets."""
    if SPLIT_SET in s.human_sets:
        raise InputError(f"the name '{SPLIT_SET}' is taken by the split's own eval set",
                         field=f"eval.human_sets.{SPLIT_SET}")
    sets = {SPLIT_SET: str(split_path), **s.human_sets} if s.split_set else dict(s.human_sets)
    if not sets:
        raise InputError("nothing to evaluate: split_set is false and human_sets is empty",
                         field="eval.split_set")
    return sets


def evaluate_checkpoint(checkpoint: str, model_dir: str | os.PathLike,
                        split_path: str | os.PathLike, out_dir: str | os.PathLike,
                        metrics_path: str | os.PathLike, s: EvalSettings,
                        prompt: PromptSettings) -> StageResult:
    """OUT_DIR/NAME.predictions.jsonl (+ NAME.meta.json) and OUT_DIR/confusion_NAME.json per
    eval set, and METRICS = {"checkpoint", "sets": {NAME: one-set metrics}}."""
    from bias_judge.evaluation.eval_sets import load_eval_set
    from bias_judge.evaluation.generation import check_guided
    from bias_judge.evaluation.inference import load_eval_engine
    from bias_judge.evaluation.metrics import compute_metrics, confusion_records
    from bias_judge.evaluation.metrics.calibration import probability_metrics
    from bias_judge.evaluation.passes import run_passes, select_pairs
    from bias_judge.models.folder import check_model_folder

    sets = {name: (path, load_eval_set(path)) for name, path in eval_sets(split_path, s).items()}
    check_model_folder(model_dir)
    check_guided(s.guided, s.engine, model_dir, field="eval.guided")

    out = Path(out_dir)
    started = time.monotonic()
    engine = load_eval_engine(model_dir, s)
    note(f"evaluate {checkpoint}: {engine.name} engine, {engine.dtype}, loaded in "
         f"{time.monotonic() - started:.0f} s")
    outputs: list[Output] = []
    sidecars: list[Sidecar] = []
    warnings: list[str] = []
    results: dict[str, dict] = {}
    try:
        for name, (path, rows) in sets.items():
            pairs = select_pairs(rows, s.max_pairs, s.seed)
            t0 = time.monotonic()
            report = run_passes(engine, pairs, checkpoint=checkpoint, settings=s,
                                prompt_style=prompt.style, desc=f"{checkpoint}/{name}")
            seconds = time.monotonic() - t0
            summary = {**report.summary(), "pairs_in_set": len(rows)}
            set_warnings = ([f"{summary['skipped_too_long']} prompt(s) longer than "
                             f"max_model_len {engine.max_model_len} were not generated"]
                            if summary["skipped_too_long"] else [])
            metrics = compute_metrics(pairs, report.rows, count_tokens=engine.count_text_tokens,
                                      tokenizer_name=f"{checkpoint} judge tokenizer",
                                      seed=s.seed, resamples=s.bootstrap_resamples)
            if s.probabilities:
                metrics["probability_protocol"] = probability_metrics(
                    pairs, report.rows, seed=s.seed, resamples=s.bootstrap_resamples)
            metrics["generation"] = summary
            metrics["eval_file"] = {"name": Path(path).name, "sha256": checksums(path)[str(path)]}
            err = first_error(validator_for("eval_metrics"), metrics)
            if err is not None:
                raise InputError(f"metrics for set '{name}' fail schema eval_metrics: {err[1]}",
                                 file=str(metrics_path), field=err[0])
            results[name] = metrics
            predictions = out / f"{name}.predictions.jsonl"
            # NAME.meta.json, not beside(): NAME.predictions.meta.json would repeat the kind.
            meta_path, artifact = out / f"{name}.meta.json", predictions.name
            outputs += [Output(predictions, report.rows, "predictions", jsonl=True),
                        Output(out / f"confusion_{name}.json",
                               confusion_records(pairs, report.rows), None, jsonl=False)]
            sidecars.append(Sidecar(meta_path, artifact, rows=len(report.rows), seed=s.seed,
                                    counts=summary, inputs=checksums(path),
                                    params={**as_params(s), "prompt_style": prompt.style},
                                    warnings=set_warnings))
            # the passes printed the too-long warning once; the sidecar keeps it
            rate = summary["generated_tokens"] / seconds if seconds > 0 else 0.0
            note(f"evaluate {checkpoint}/{name}: {len(pairs)} pairs ({len(rows)} in set), "
                 f"{summary['parse_failures']} parse failures, "
                 f"{summary['skipped_too_long']} prompts too long, "
                 f"{summary['cut_at_length']} cut at max_new_tokens, "
                 f"{seconds:.0f} s ({rate:.0f} generated tokens/s)")
    finally:
        engine.close()
    report_doc = {"checkpoint": checkpoint, "sets": results}
    # An openai engine has no precision: the server chose its dtype, nothing was resolved here.
    if getattr(engine, "precision", None) is not None:
        report_doc["precision"] = engine.precision
    outputs.append(Output(Path(metrics_path), report_doc, None, jsonl=False))
    return StageResult(outputs=outputs, sidecars=sidecars, warnings=warnings,
                       summary=f"done in {time.monotonic() - started:.0f} s -> {metrics_path}")
