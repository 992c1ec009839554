"""Stage `onpolicy`: the DPO rows, with the SFT judge's own wrong replies as rejected answers
(docs/training.md#on-policy-dpo).

    bias-judge onpolicy --model models/sft/merged --labels data/labels.jsonl \
        --offline-rows data/rows/dpo.jsonl --out-dir data/dpo_rows [--params params.yaml]

judges `onpolicy.pairs` labelled training pairs (seeded) greedily in both orders with the
engine of the `eval` section; each order whose verdict differs from the label gives a row
(chosen: the label, rejected: the reply). DIR/dpo.jsonl (dpo_row): those rows, then
`onpolicy.offline_rows` rows of the format stage; DIR/dpo.meta.json: the counts. With
`onpolicy.pairs: 0` no model is loaded and DIR/dpo.jsonl holds the offline rows only.
params sections `onpolicy` (pairs, min_confidence, include_tie, offline_rows, seed), `eval`
(engine and decoding) and `prompt` (style).
"""

from __future__ import annotations

import click

from bias_judge.core.progress import engine_log, log_path_for
from bias_judge.data.prompt import PromptSettings
from bias_judge.evaluation.settings import EvalSettings
from bias_judge.models.onpolicy import FILES, OnPolicySettings, onpolicy_file
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"onpolicy": OnPolicySettings, "eval": EvalSettings, "prompt": PromptSettings}


@click.command(help="DPO rows whose rejected answers are the SFT judge's own wrong replies.")
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
              help="The SFT judge's merged model folder.")
@click.option("--labels", "labels_path", required=True, type=click.Path(dir_okay=False),
              help="Labelled training pairs (labelled_pair JSONL).")
@click.option("--offline-rows", "offline_path", required=True, type=click.Path(dir_okay=False),
              help="The format stage's DPO rows (dpo_row JSONL).")
@click.option("--out-dir", required=True,
              type=OutputPath(file_okay=False, writes=tuple(FILES.values())),
              help="Output folder: dpo.jsonl, dpo.meta.json.")
@params_option
@one_line_errors
def command(model_dir, labels_path, offline_path, out_dir, params_path) -> None:
    p = read_settings(params_path, PARAMS)
    with engine_log(log_path_for(out_dir)):
        result = onpolicy_file(model_dir, labels_path, offline_path, out_dir, p["onpolicy"],
                               p["eval"], p["prompt"].style)
    emit("onpolicy", result)
