"""Stage `format`: labelled pairs -> SFT and DPO training rows, both response orders (SPEC §6).

    bias-judge format --labels data/labels.jsonl --out-dir data/rows [--params params.yaml]

writes DIR/sft.jsonl (sft_row), DIR/dpo.jsonl (dpo_row), DIR/rows.meta.json.
params section `format`: seed, sft_min_confidence, dpo_min_confidence,
dpo_rejected (mixed | verdict_flip | failure_modes), max_length_ratio.
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.core import jsonio
from bias_judge.data.format_rows import build_rows
from bias_judge.stages.common import one_line_errors, params_option, stage_params

DEFAULTS = {
    "seed": 42,
    "sft_min_confidence": 3,
    "dpo_min_confidence": 4,
    "dpo_rejected": "mixed",
    "max_length_ratio": 1.15,
}


@click.command(help="Turn labelled pairs into swap-doubled SFT and DPO rows.")
@click.option("--labels", "labels_path", required=True, type=click.Path(dir_okay=False),
              help="Labelled pairs (labelled_pair JSONL).")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: sft.jsonl, dpo.jsonl, rows.meta.json.")
@params_option
@one_line_errors
def command(labels_path: str, out_dir: str, params_path: str | None) -> None:
    params = stage_params(params_path, "format") or DEFAULTS
    style = (stage_params(params_path, "prompt") or {"style": "published"})["style"]
    labelled = jsonio.read_jsonl(labels_path, schema="labelled_pair")
    rows = build_rows(labelled, seed=params["seed"],
                      sft_min_confidence=params["sft_min_confidence"],
                      dpo_min_confidence=params["dpo_min_confidence"],
                      dpo_rejected=params["dpo_rejected"],
                      max_length_ratio=params["max_length_ratio"], prompt_style=style)
    for warning in rows.warnings:
        click.echo(f"warning: {warning}", err=True)
    out = Path(out_dir)
    jsonio.write_jsonl(out / "sft.jsonl", rows.sft, schema="sft_row")
    jsonio.write_jsonl(out / "dpo.jsonl", rows.dpo, schema="dpo_row")
    jsonio.write_meta(out / "rows", {
        "artifact": out.name,
        "rows": len(rows.sft) + len(rows.dpo),
        "seed": params["seed"],
        "counts": rows.counts,
        "inputs": {labels_path: jsonio.sha256_file(labels_path)},
        "params": {**params, "prompt_style": style},
        "warnings": rows.warnings,
    })
    click.echo(f"format: {len(rows.sft)} SFT rows, {len(rows.dpo)} DPO rows "
               f"(length ratio {rows.counts['length_ratio_chosen_over_rejected']}) -> {out}",
               err=True)
