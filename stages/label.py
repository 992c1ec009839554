"""Stage `label`: training pairs -> labelled pairs (verdict, reasoning, confidence), plus the
gold-quality report of the rule labeler against human-labelled sets.

    bias-judge label --pairs data/split/train.jsonl --out data/labels.jsonl \
        [--gold-report metrics/gold_quality.json] [--levels-from data/pairs.jsonl] [--params params.yaml]

params section `label`: labeler (rule | import), biased_vs_unclear (TIE | A_or_B),
reasoning (prose | stepwise, rule labeler),
human_eval_sets [paths], import_files [paths], import_rejected (path | null).

Human-labelled sets in the published holdout format lack the responses' bias levels;
`--levels-from` names a pair pool (the pipeline's pairs.jsonl) to take them from by pair_id
(see bias_judge.labelers.gold_quality). The report is always written when asked for, with an
empty `sets` object when no human set is configured.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.core import jsonio
from bias_judge.core.errors import InputError
from bias_judge.data.labelers import run_labeler
from bias_judge.data.labelers.imported import attach_rejected, read_label_file, read_rejected_file
from bias_judge.stages.common import one_line_errors, params_option, stage_params

DEFAULTS = {
    "labeler": "rule",
    "biased_vs_unclear": "TIE",
    "reasoning": "prose",
    "human_eval_sets": [],
    "import_files": [],
    "import_rejected": None,
}


def _tally(rows: list[dict], key: str) -> dict:
    out: dict = {}
    for r in rows:
        out[str(r[key])] = out.get(str(r[key]), 0) + 1
    return dict(sorted(out.items()))


def label_options(params: dict, inputs: dict) -> dict:
    if params["labeler"] == "rule":
        return {"biased_vs_unclear": params["biased_vs_unclear"],
                "reasoning": params["reasoning"]}
    if not params["import_files"]:
        raise InputError("labeler 'import' needs at least one file in import_files",
                         field="label.import_files")
    labels = []
    for path in params["import_files"]:
        labels.extend(read_label_file(path))
        inputs[path] = jsonio.sha256_file(path)
    return {"labels": labels}


def build_gold_report(params: dict, levels_from: str | None, inputs: dict) -> dict:
    from bias_judge.data.labelers.gold_quality import gold_quality_report

    sets = []
    for path in params["human_eval_sets"]:
        sets.append((Path(path).stem, path, jsonio.read_jsonl(path, schema="pair")))
        inputs[path] = jsonio.sha256_file(path)
    pool = []
    if sets and levels_from:
        pool = jsonio.read_jsonl(levels_from, schema="pair")
        inputs[levels_from] = jsonio.sha256_file(levels_from)
    return gold_quality_report(sets, levels_pool=pool,
                               biased_vs_unclear=params["biased_vs_unclear"])


@click.command(help="Label training pairs (rule or imported labels) and report gold quality.")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(dir_okay=False),
              help="Training pairs (pair JSONL).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Labelled pairs (JSONL); the sidecar X.meta.json is written beside it.")
@click.option("--gold-report", default=None, type=click.Path(dir_okay=False),
              help="Where to write the rule-vs-human agreement report (JSON).")
@click.option("--levels-from", default=None, type=click.Path(dir_okay=False),
              help="Pair pool (pair JSONL) supplying bias levels to human-labelled rows that "
                   "lack them, matched by pair_id and response texts.")
@params_option
@one_line_errors
def command(pairs_path: str, out: str, gold_report: str | None, levels_from: str | None,
            params_path: str | None) -> None:
    params = stage_params(params_path, "label") or DEFAULTS
    pairs = jsonio.read_jsonl(pairs_path, schema="pair")
    inputs = {pairs_path: jsonio.sha256_file(pairs_path)}
    result = run_labeler(params["labeler"], pairs, **label_options(params, inputs))
    counts = dict(result.counts)
    if params["import_rejected"]:
        path = params["import_rejected"]
        counts.update(attach_rejected(result.rows, read_rejected_file(path)))
        inputs[path] = jsonio.sha256_file(path)
    counts.update(by_verdict=_tally(result.rows, "verdict"),
                  by_confidence=_tally(result.rows, "confidence"),
                  by_bucket=_tally(result.rows, "pair_category"),
                  by_label_source=_tally(result.rows, "label_source"))
    report = build_gold_report(params, levels_from, inputs) if gold_report else None
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    jsonio.write_jsonl(out, result.rows, schema="labelled_pair")
    jsonio.write_meta(out, {
        "artifact": Path(out).name,
        "rows": len(result.rows),
        "seed": None,
        "counts": counts,
        "inputs": inputs,
        "params": params,
        "warnings": result.warnings,
    })
    if report is not None:
        jsonio.write_json(gold_report, report)
    click.echo(f"label: {len(result.rows)} pairs labelled ({params['labeler']}) -> {out}", err=True)

