"""`bias-judge metrics`: recompute one eval set's metrics from any predictions file.

The bootstrap seed and resample count are the evaluate stage's (`eval.seed`,
`eval.bootstrap_resamples`), so a recomputed file matches the pipeline's; --seed and
--resamples override them."""

from __future__ import annotations

import click

from bias_judge.stages.common import OutputPath, one_line_errors, params_option, read_settings

PARAMS = {"eval.seed": int, "eval.bootstrap_resamples": int}


@click.command("metrics")
@click.option("--eval-set", "eval_set", required=True, type=click.Path(dir_okay=False),
              help="Eval pairs with gold: the split's eval.jsonl (gold_verdict) or a "
                   "human-labelled file in the published holdout format (human_verdict).")
@click.option("--predictions", required=True, type=click.Path(dir_okay=False),
              help="Predictions JSONL: seven runs per eval pair (original, swapped, sample_0..4).")
@click.option("--tokenizer", default=None, type=click.Path(),
              help="The judge's tokenizer (a tokenizer.json or a tokenizer/model folder) for "
                   "verbosity bias. Without it, responses are counted in whitespace words.")
@click.option("--out", required=True, type=OutputPath(dir_okay=False),
              help="Metrics JSON to write (schema eval_metrics).")
@click.option("--confusion", "confusion_out", default=None, type=OutputPath(dir_okay=False),
              help="Also write dvc-plots confusion records: [{slice, gold, predicted}].")
@click.option("--seed", default=None, type=click.IntRange(min=0),
              help="Bootstrap seed; overrides eval.seed.")
@click.option("--resamples", default=None, type=click.IntRange(min=0),
              help="Bootstrap resamples per metric (0: no intervals); overrides "
                   "eval.bootstrap_resamples.")
@params_option
@one_line_errors
def command(eval_set, predictions, tokenizer, out, confusion_out, seed, resamples, params_path):
    """Judge metrics for one eval set (docs/metrics.md) with 95 % bootstrap intervals."""
    from bias_judge.evaluation.eval_sets import load_eval_set, load_predictions
    from bias_judge.core.jsonio import write_json
    from bias_judge.evaluation.metrics import compute_metrics, confusion_records, load_token_counter

    p = read_settings(params_path, PARAMS)
    seed = p["eval.seed"] if seed is None else seed
    resamples = p["eval.bootstrap_resamples"] if resamples is None else resamples
    # Load everything (the tokenizer too) before computing, and compute everything before
    # writing, so any bad input leaves no file behind.
    eval_rows = load_eval_set(eval_set)
    prediction_rows = load_predictions(predictions, eval_rows)
    count_tokens = load_token_counter(tokenizer) if tokenizer is not None else None
    result = compute_metrics(eval_rows, prediction_rows, count_tokens=count_tokens,
                             tokenizer_name=tokenizer, seed=seed, resamples=resamples)
    records = confusion_records(eval_rows, prediction_rows) if confusion_out else None
    write_json(out, result, schema="eval_metrics")
    if records is not None:
        write_json(confusion_out, records)
    click.echo(f"{out}: {result['n_pairs']} pairs, kappa in-dist "
               f"{_fmt(result['kappa_in_dist']['value'])}, OOD {_fmt(result['kappa_ood']['value'])}, "
               f"parse failures {_fmt(result['parse_failure_rate']['value'])}")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
