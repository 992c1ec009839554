"""Stage `probe`: bias probes of one released judge (docs/trust.md#probes).

    bias-judge probe --checkpoint sft --model models/sft/merged --eval-set data/split/eval.jsonl \
        --out metrics/probe_sft.json [--params params.yaml]

judges a deterministic subset of the eval pairs (`probe.max_pairs`, per slice, seeded) as
given, with the clean response padded by neutral sentences, and with the question's two groups
exchanged everywhere; both orders each, greedily, with verdict probabilities. OUT (schema
probe_metrics): the position, verbosity and counterfactual rates with bootstrap intervals.
params sections `probe` (max_pairs, padding_sentences, seed, bootstrap_resamples), `eval`
(the engine and decoding settings) and `prompt` (style).
"""

from __future__ import annotations

import click

from bias_judge.core.progress import engine_log, log_path_for
from bias_judge.data.prompt import PromptSettings
from bias_judge.evaluation.probes import ProbeSettings, probe_checkpoint
from bias_judge.evaluation.settings import EvalSettings
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"probe": ProbeSettings, "eval": EvalSettings, "prompt": PromptSettings}


@click.command(help="Probe one checkpoint for position, verbosity and group bias in its own "
                    "verdicts.")
@click.option("--checkpoint", required=True, help="Checkpoint name (sft, dpo, ...).")
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
              help="Model folder: weights, tokenizer with chat template.")
@click.option("--eval-set", "eval_set", required=True, type=click.Path(dir_okay=False),
              help="Eval pairs with gold verdicts (eval_pair JSONL).")
@click.option("--out", "out_path", required=True, type=OutputPath(dir_okay=False),
              help="Probe metrics JSON (schema probe_metrics).")
@click.option("--log", "log_path", default=None, type=OutputPath(dir_okay=False),
              help="The engines' own output. Default: eval/probe_CHECKPOINT.log (beside the "
                   "evaluate stage's logs, out of git).")
@params_option
@one_line_errors
def command(checkpoint, model_dir, eval_set, out_path, log_path, params_path) -> None:
    p = read_settings(params_path, PARAMS)
    with engine_log(log_path or log_path_for(f"eval/probe_{checkpoint}")):
        result = probe_checkpoint(checkpoint, model_dir, eval_set, out_path, p["probe"],
                                  p["eval"], p["prompt"].style)
    emit(f"probe {checkpoint}", result)
