"""Stage `format`: labelled pairs -> SFT and DPO training rows, both response orders (docs/data-formats.md#prompt-and-rows).

    bias-judge format --labels data/labels.jsonl --out-dir data/rows [--params params.yaml]

writes DIR/sft.jsonl (sft_row), DIR/dpo.jsonl (dpo_row), DIR/rows.meta.json.
params sections `format` (seed, sft_min_confidence, dpo_min_confidence,
dpo_rejected (mixed | verdict_flip | failure_modes), max_length_ratio) and `prompt` (style).
"""

from __future__ import annotations

import click

from bias_judge.data.format_rows import FILES, FormatSettings, format_file
from bias_judge.data.prompt import PromptSettings
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"format": FormatSettings, "prompt": PromptSettings}


@click.command(help="Turn labelled pairs into swap-doubled SFT and DPO rows.")
@click.option("--labels", "labels_path", required=True, type=click.Path(dir_okay=False),
              help="Labelled pairs (labelled_pair JSONL).")
@click.option("--out-dir", required=True,
              type=OutputPath(file_okay=False, writes=tuple(FILES.values())),
              help="Output folder: sft.jsonl, dpo.jsonl, rows.meta.json.")
@params_option
@one_line_errors
def command(labels_path: str, out_dir: str, params_path: str) -> None:
    p = read_settings(params_path, PARAMS)
    emit("format", format_file(labels_path, out_dir, p["format"], p["prompt"]))
