"""Stage `split`: judge pairs -> eval set (in-dist + held-out-category slices, gold verdicts)
and the training pool (docs/data-formats.md#split).

    bias-judge split --pairs data/pairs.jsonl --out data/split [--params params.yaml]

writes DIR/eval.jsonl (eval_pair), DIR/train.jsonl (pair), DIR/split.meta.json.
params section `split`: seed, ood_category, in_dist {bucket: n}, ood_size.
"""

from __future__ import annotations

import click

from bias_judge.data.splitting import FILES, SplitSettings, split_file
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"split": SplitSettings}


@click.command(help="Split pairs into the eval set (in-dist + OOD slices) and the training pool.")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(dir_okay=False),
              help="Judge pairs (pair JSONL).")
@click.option("--out", required=True,
              type=OutputPath(file_okay=False, writes=tuple(FILES.values())),
              help="Output folder: eval.jsonl, train.jsonl, split.meta.json.")
@params_option
@one_line_errors
def command(pairs_path: str, out: str, params_path: str) -> None:
    s = read_settings(params_path, PARAMS)["split"]
    emit("split", split_file(pairs_path, out, s))
