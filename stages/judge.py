"""`bias-judge judge`: a trained judge applied to your own pairs.

    bias-judge judge --model models/dpo/merged --pairs my_pairs.jsonl --out verdicts.jsonl
    bias-judge judge --model models/dpo/merged --base-url http://127.0.0.1:8000 --pairs ... --out ...

reads PAIRS (schema judge_input: question_text, response_a {text}, response_b {text},
answer_choices optional) and writes OUT (schema judge_output): per pair the verdict, the
reasoning, the swap check, the verdict probabilities over both orders (docs/trust.md),
every raw reply and the settings. Not a pipeline stage: nothing in
dvc.yaml runs it. Settings come from params.yaml: `prompt.style` (the prompt the checkpoint
was trained with) and the `eval` section (engine, dtype, context, max_new_tokens,
sample_temperature, seed, guided, batch_size, base_url, engine_options); the options
override them for one run. A checkpoint folder with a bias_judge.json (what the sft and dpo
stages write) gives the prompt style and max_new_tokens instead of params.yaml; an option
still wins, and either way a value that differs from the folder's is one warning line.
"""

from __future__ import annotations

import click

from bias_judge.core.vocabulary import DTYPES, ORDER_PROTOCOLS
from bias_judge.data.prompt import PROMPT_STYLES, PromptSettings
from bias_judge.evaluation.inference import ENGINES
from bias_judge.evaluation.settings import EvalSettings
from bias_judge.stages.common import OutputPath, emit, one_line_errors, params_option, read_settings

PARAMS = {"eval": EvalSettings, "prompt": PromptSettings}


@click.command(help=(
    "Judge your own pairs with a trained checkpoint: which response leans more on "
    "stereotypes (A, B or TIE), with the reasoning and the swap check.\n\n"
    "PAIRS is JSONL in the pairs format: question_text, response_a {text}, response_b {text}, "
    "and answer_choices ([{letter, text}] x 3). answer_choices may be left out (the prompt "
    "then has no choices block), but the judge was trained with them and is most reliable "
    "when they are given. Defaults come from the params file (prompt.style, eval.*)."))
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
              help="Checkpoint folder (e.g. models/dpo/merged). With --base-url its tokenizer, "
                   "chat template and stop tokens are read here; the weights are not loaded.")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(dir_okay=False),
              help="Pairs to judge (JSONL, schema judge_input).")
@click.option("--out", "out_path", required=True, type=OutputPath(dir_okay=False),
              help="Verdicts (JSONL, schema judge_output), written atomically.")
@click.option("--order", type=click.Choice(ORDER_PROTOCOLS), default="both",
              show_default=True,
              help="both: judge each pair also with the responses exchanged (same batch); when "
                   "the two orders disagree the verdict is TIE and 'consistent' is false, and "
                   "the verdict probabilities are averaged over the orders. original: the order "
                   "given. random: one order per pair, drawn from eval.seed and the pair.")
@click.option("--probabilities/--no-probabilities", default=None,
              help="Verdict probabilities (A, B, TIE) of each greedy reply, per order and "
                   "averaged, with their argmax and confidence. Default: eval.probabilities.")
@click.option("--abstain-below", default=None, type=click.FloatRange(0.0, 1.0),
              help="Mark a verdict needs_review when its averaged probability is below P "
                   "(pick P from the evaluate stage's coverage-agreement curve).")
@click.option("--samples", default=0, show_default=True, type=click.IntRange(min=0),
              help="0: one greedy reply per order. K: the majority of K replies sampled at "
                   "eval.sample_temperature (no strict plurality: TIE).")
@click.option("--base-url", default=None,
              help="An OpenAI-compatible server (e.g. `vllm serve` at http://127.0.0.1:8000) "
                   "to send the requests to; implies --engine openai. Default: eval.base_url "
                   "when eval.engine is openai.")
@click.option("--served-model", default=None,
              help="The model's name on the server. Default: the one served under the "
                   "--model folder's path (`vllm serve DIR` names it DIR).")
@click.option("--engine", default=None, type=click.Choice(ENGINES),
              help="Default: eval.engine (openai with --base-url).")
@click.option("--dtype", default=None, type=click.Choice(DTYPES),
              help="In-process weights dtype. Default: eval.dtype.")
@click.option("--guided/--no-guided", default=None,
              help="Hold every reply to the judge format with vLLM structured outputs (vllm "
                   "engine, or a vLLM server). Default: eval.guided.")
@click.option("--prompt-style", default=None, type=click.Choice(sorted(PROMPT_STYLES)),
              help="The prompt the checkpoint was trained with. Default: the one the "
                   "model folder's bias_judge.json records, else prompt.style.")
@click.option("--max-new-tokens", default=None, type=click.IntRange(min=1),
              help="Default: the model folder's bias_judge.json, else eval.max_new_tokens.")
@click.option("--batch-size", default=None, type=click.IntRange(min=1),
              help="Conversations per engine call. Default: eval.batch_size.")
@click.option("--concurrency", default=None, type=click.IntRange(min=1),
              help="openai: requests in flight. Default: eval.engine_options.concurrency.")
@click.option("--max-retries", default=None, type=click.IntRange(min=0),
              help="openai: retries per request, with back-off. Default: "
                   "eval.engine_options.max_retries.")
@click.option("--save-every", default=0, show_default=True, type=click.IntRange(min=0),
              help="Keep the rows judged so far every N pairs in a hidden partial file beside "
                   "OUT; a re-run with the same pairs and settings skips them (long runs, a Ray "
                   "cluster). 0: off.")
@params_option
@one_line_errors
def command(model_dir, pairs_path, out_path, order, probabilities, abstain_below, samples,
            save_every, base_url, served_model,
            engine, dtype, guided, prompt_style, max_new_tokens, batch_size, concurrency,
            max_retries, params_path):
    from bias_judge.evaluation.judge import (choose_engine, judge_file, remove_partial,
                                             settings_for_model)

    p = read_settings(params_path, PARAMS)
    s: EvalSettings = p["eval"]
    engine, base_url, options = choose_engine(s, engine=engine, base_url=base_url,
                                              served_model=served_model,
                                              concurrency=concurrency, max_retries=max_retries)
    settings, warnings = settings_for_model(model_dir, s, p["prompt"].style,
                                            swap_check=order == "both", samples=samples,
                                            random_order=order == "random",
                                            probabilities=probabilities,
                                            abstain_below=abstain_below,
                                            prompt_style=prompt_style, guided=guided,
                                            max_new_tokens=max_new_tokens, batch_size=batch_size)
    for warning in warnings:
        click.echo(f"warning: judge: {warning}", err=True)
    emit("judge", judge_file(pairs_path, out_path, model_dir=model_dir, engine=engine,
                             dtype=dtype or s.dtype, max_model_len=s.max_model_len,
                             engine_options=options, base_url=base_url, settings=settings,
                             save_every=save_every))
    if save_every:
        remove_partial(out_path)
