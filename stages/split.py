"""Stage `split`: judge pairs -> eval set (in-dist + held-out-category slices, gold verdicts)
and the training pool (SPEC §5).

    bias-judge split --pairs data/pairs.jsonl --out data/split [--params params.yaml]

writes DIR/eval.jsonl (eval_pair), DIR/train.jsonl (pair), DIR/split.meta.json.
params section `split`: seed, ood_category, in_dist {bucket: n}, ood_size. Without --params
the published settings apply (seed 42, religion held out, 110/50/35/25/20, OOD 60).
"""

from __future__ import annotations

from pathlib import Path

import click

from bias_judge.core import jsonio
from bias_judge.data.splitting import PUBLISHED_SETTINGS, split_pairs
from bias_judge.stages.common import one_line_errors, params_option, stage_params


@click.command(help="Split pairs into the eval set (in-dist + OOD slices) and the training pool.")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(dir_okay=False),
              help="Judge pairs (pair JSONL).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Output folder: eval.jsonl, train.jsonl, split.meta.json.")
@params_option
@one_line_errors
def command(pairs_path: str, out: str, params_path: str | None) -> None:
    params = stage_params(params_path, "split") or PUBLISHED_SETTINGS
    pairs = jsonio.read_jsonl(pairs_path, schema="pair")
    result = split_pairs(pairs, seed=params["seed"], ood_category=params["ood_category"],
                         in_dist=params["in_dist"], ood_size=params["ood_size"])
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    out_dir = Path(out)
    jsonio.write_jsonl(out_dir / "eval.jsonl", result.eval_rows, schema="eval_pair")
    jsonio.write_jsonl(out_dir / "train.jsonl", result.train, schema="pair")
    jsonio.write_meta(out_dir / "split", {
        "artifact": out_dir.name,
        "rows": len(result.eval_rows) + len(result.train),
        "seed": params["seed"],
        "counts": result.counts,
        "inputs": {pairs_path: jsonio.sha256_file(pairs_path)},
        "params": params,
        "warnings": result.warnings,
    })
    click.echo(f"split: {len(result.eval_rows)} eval pairs, {len(result.train)} training pairs "
               f"-> {out_dir}", err=True)
