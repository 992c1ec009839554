"""Stage `label`: training pairs -> labelled pairs (verdict, reasoning, confidence), plus the
gold-quality report of the rule labeler against human-labelled sets.

    bias-judge label --pairs data/split/train.jsonl --out data/labels.jsonl \
        [--gold-report metrics/gold_quality.json] [--levels-from data/pairs.jsonl] [--params params.yaml]

params section `label`: labeler (rule | import), biased_vs_unclear (TIE | A_or_B),
reasoning (prose | stepwise, rule labeler),
human_eval_sets [paths], frontier_sets {name: path}, import_files [paths],
import_rejected (path | null).

The report's `frontier` section holds the teacher's labels against frontier verdicts on the
same training pairs (`sonnet_verdict`, else `verdict`), per set and bucket: training-pool
evidence, the place to tune the teacher (docs/training.md#the-teacher).

Human-labelled sets in the published holdout format lack the responses' bias levels;
`--levels-from` names a pair pool (the pipeline's pairs.jsonl) to take them from by pair_id
(see bias_judge.data.labelers.gold_quality). The report is always written when asked for,
with an empty `sets` object when no human set is configured.
"""

from __future__ import annotations

import click

from bias_judge.data.labelers import LabelSettings, label_file
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"label": LabelSettings}


@click.command(help="Label training pairs (rule or imported labels) and report gold quality.")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(dir_okay=False),
              help="Training pairs (pair JSONL).")
@click.option("--out", required=True, type=OutputPath(dir_okay=False),
              help="Labelled pairs (JSONL); the sidecar X.meta.json is written beside it.")
@click.option("--gold-report", default=None, type=OutputPath(dir_okay=False),
              help="Where to write the rule-vs-human agreement report (JSON).")
@click.option("--levels-from", default=None, type=click.Path(dir_okay=False),
              help="Pair pool (pair JSONL) supplying bias levels to human-labelled rows that "
                   "lack them, matched by pair_id and response texts.")
@params_option
@one_line_errors
def command(pairs_path: str, out: str, gold_report: str | None, levels_from: str | None,
            params_path: str) -> None:
    s = read_settings(params_path, PARAMS)["label"]
    emit("label", label_file(pairs_path, out, gold_report, levels_from, s))
