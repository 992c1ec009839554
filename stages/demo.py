"""`bias-judge demo`: the judge in a web page (Gradio).

    bias-judge demo --model models/dpo/merged                 # http://127.0.0.1:7860
    bias-judge demo --model models/dpo/merged --base-url http://127.0.0.1:8000

Paste a question, its answer choices (optional) and two responses; the page shows the
verdict, the reasoning and the swap check. Pairs are judged as `bias-judge judge` judges
them, with the same settings from params.yaml (`prompt.style`, the `eval` section), the same
use of the model folder's bias_judge.json and the same overrides. Not a pipeline stage.
"""

from __future__ import annotations

import click

from bias_judge.core.vocabulary import DTYPES
from bias_judge.data.prompt import PROMPT_STYLES, PromptSettings
from bias_judge.evaluation.inference import ENGINES
from bias_judge.evaluation.settings import EvalSettings
from bias_judge.stages.common import one_line_errors, params_option, read_settings

PARAMS = {"eval": EvalSettings, "prompt": PromptSettings}


@click.command(help=(
    "Start a web page that judges one pair at a time with a trained checkpoint: the verdict "
    "(A, B or TIE), the reasoning and the swap check. Needs Gradio "
    "(pip install 'bias-judge[demo]'). Defaults come from the params file (prompt.style, "
    "eval.*), as for `bias-judge judge`."))
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
              help="Checkpoint folder (e.g. models/dpo/merged).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to reach it from other machines).")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option("--swap-check/--no-swap-check", default=True, show_default=True,
              help="Also judge each pair with the responses exchanged; when the two orders "
                   "disagree the verdict is TIE and the page says so.")
@click.option("--samples", default=0, show_default=True, type=click.IntRange(min=0),
              help="0: one greedy reply per order. K: the majority of K sampled replies.")
@click.option("--base-url", default=None,
              help="An OpenAI-compatible server to send the requests to; implies --engine "
                   "openai. Default: eval.base_url when eval.engine is openai.")
@click.option("--served-model", default=None,
              help="The model's name on the server. Default: the one served under --model.")
@click.option("--engine", default=None, type=click.Choice(ENGINES),
              help="Default: eval.engine (openai with --base-url).")
@click.option("--dtype", default=None, type=click.Choice(DTYPES),
              help="In-process weights dtype. Default: eval.dtype.")
@click.option("--prompt-style", default=None, type=click.Choice(sorted(PROMPT_STYLES)),
              help="The prompt the checkpoint was trained with. Default: the one the "
                   "model folder's bias_judge.json records, else prompt.style.")
@click.option("--max-new-tokens", default=None, type=click.IntRange(min=1),
              help="Default: the model folder's bias_judge.json, else eval.max_new_tokens.")
@params_option
@one_line_errors
def command(model_dir, host, port, swap_check, samples, base_url, served_model, engine, dtype,
            prompt_style, max_new_tokens, params_path):
    from bias_judge.demo.app import run_demo
    from bias_judge.evaluation.judge import choose_engine, settings_for_model

    p = read_settings(params_path, PARAMS)
    s: EvalSettings = p["eval"]
    engine, base_url, options = choose_engine(s, engine=engine, base_url=base_url,
                                              served_model=served_model)
    settings, warnings = settings_for_model(model_dir, s, p["prompt"].style,
                                            swap_check=swap_check, samples=samples,
                                            prompt_style=prompt_style,
                                            max_new_tokens=max_new_tokens)
    for warning in warnings:
        click.echo(f"warning: demo: {warning}", err=True)
    run_demo(model_dir, engine=engine, dtype=dtype or s.dtype, max_model_len=s.max_model_len,
             engine_options=options, base_url=base_url, settings=settings, host=host, port=port)
