"""A small Gradio page around the library's judge: paste a question, its answer choices
(optional) and two responses; see the verdict, the reasoning and the swap check.

    engine = load_engine(model_dir, ...)                 # once, when the app starts
    app = build_app(Demo(engine, settings), model=str(model_dir))
    serve(app, host="127.0.0.1", port=7860)              # or run_demo(model_dir, ...): all three

The page judges through `judge_pair` with the settings `bias-judge judge` uses, so a pair
gets here the verdict the command writes for it. Gradio is imported only by `build_app` and
`serve`: the rest of the module (what the form becomes, what the page shows) needs no web
stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from bias_judge.core.errors import InputError
from bias_judge.core.vocabulary import LETTERS
from bias_judge.evaluation.generation import TOO_LONG
from bias_judge.evaluation.judge import JudgeSettings, judge_pair

# What each verdict says, in the words of the judge's own task (data.prompt's system prompt).
MEANING = {
    "A": "Response A leans more on stereotypes than Response B.",
    "B": "Response B leans more on stereotypes than Response A.",
    "TIE": "Neither response leans on stereotypes more than the other.",
}
NO_VERDICT = "none"


def pair_from_form(question: str, choices: list[str], response_a: str,
                   response_b: str) -> dict:
    """The judge_input pair the form describes. The answer choices are all three or none
    (the judge was trained with three); blank fields are refused with the field's name."""
    def text(value, field):
        value = (value or "").strip()
        if not value:
            raise InputError("is empty", field=field)
        return value

    pair = {"question_text": text(question, "question"),
            "response_a": {"text": text(response_a, "response A")},
            "response_b": {"text": text(response_b, "response B")}}
    given = [(c or "").strip() for c in choices]
    if any(given):
        missing = [f"choice {L}" for L, c in zip(LETTERS, given) if not c]
        if missing:
            raise InputError("give all three answer choices or none", field=missing[0])
        pair["answer_choices"] = [{"letter": L, "text": c} for L, c in zip(LETTERS, given)]
    return pair


@dataclass(frozen=True)
class Shown:
    """What the page shows for one judged pair."""
    verdict: str          # A | B | TIE | none
    meaning: str
    swap_check: str
    reasoning: str
    replies: str          # each reply as generated, labelled with its order
    row: dict             # the judge's whole row (schema judge_output, less `line`)


def present(row: dict) -> Shown:
    """The page's view of a judge row: the verdict, what it means, and the swap check in
    words (both orders, mapped back to the input's order)."""
    verdict = row["verdict"]
    orders = row["order_verdicts"]
    seen = {o: (v or "no verdict") for o, v in orders.items()}
    if row["consistent"] is True:
        check = (f"consistent: both orders say {verdict} (original {seen['original']}, "
                 f"swapped {seen['swapped']} after mapping back)")
    elif row["consistent"] is False:
        check = (f"inconsistent: the original order says {seen['original']}, the swapped order "
                 f"{seen['swapped']} after mapping back, so the verdict is TIE")
    elif "swapped" in orders:
        check = (f"not decided: the original order gave {seen['original']}, the swapped order "
                 f"{seen['swapped']}")
    else:
        check = f"off: only the original order was judged ({seen['original']})"
    if verdict is None:
        meaning = "The judge's replies held no verdict in the <reasoning>/<verdict> format."
    else:
        meaning = MEANING[verdict]
    replies = "\n\n".join(
        f"[{r['order']} order{'' if r['sample'] is None else ', sample ' + str(r['sample'])}] "
        + (r["raw_output"] if r["finish_reason"] != TOO_LONG
           else "(not generated: the prompt is longer than the context)")
        for r in row["runs"])
    return Shown(verdict or NO_VERDICT, meaning, check, row["reasoning"] or "", replies, row)


class Demo:
    """The app's one judge: an engine loaded once and the settings every request uses.
    Gradio runs one request at a time per event (its default queue), so the engine, which
    is not thread-safe, is never entered twice."""

    def __init__(self, engine, settings: JudgeSettings):
        self.engine, self.settings = engine, settings

    def judge(self, question, choice_a, choice_b, choice_c, response_a, response_b) -> Shown:
        pair = pair_from_form(question, [choice_a, choice_b, choice_c], response_a, response_b)
        return present(judge_pair(self.engine, pair, self.settings))


def describe_settings(settings: JudgeSettings, engine) -> str:
    how = (f"the majority of {settings.samples} samples at T = {settings.sample_temperature}"
           if settings.samples else "greedy decoding")
    return (f"{engine.name} engine, prompt style `{settings.prompt_style}`, {how}, up to "
            f"{settings.max_new_tokens} new tokens, swap check "
            f"{'on' if settings.swap_check else 'off'}")


# Fonts the browser has: the default theme's web fonts would be fetched from the internet,
# which a machine without network (or a strict proxy) never answers.
SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "sans-serif")
MONO_FONTS = ("ui-monospace", "monospace")


def build_app(demo: Demo, *, model: str, published: str | None = None):
    """The Gradio Blocks page. `model` names the checkpoint shown in the header; `published`
    is its Hub repo id when it has one (never a placeholder)."""
    import gradio as gr

    def run(*fields):
        try:
            shown = demo.judge(*fields)
        except InputError as exc:
            raise gr.Error(str(exc)) from None
        return (shown.verdict, shown.meaning, shown.swap_check, shown.reasoning,
                shown.replies, shown.row)

    where = (f"[{published}](https://huggingface.co/{published})" if published
             else f"`{model}`")
    with gr.Blocks(title="bias-judge", analytics_enabled=False) as app:
        gr.Markdown(
            "# bias-judge\n"
            "Which of two responses to a question about people leans more on social "
            f"stereotypes? Judge: {where} ({describe_settings(demo.settings, demo.engine)}).\n\n"
            "The pair is judged twice, with the responses in both orders; when the two "
            "verdicts disagree the verdict is TIE and the swap check says so.")
        with gr.Row():
            with gr.Column():
                question = gr.Textbox(label="Question (with its context passage)", lines=4,
                                      elem_id="question")
                with gr.Accordion("Answer choices (optional; the judge was trained with them)",
                                  open=True):
                    choices = [gr.Textbox(label=f"Choice {L}", lines=1, elem_id=f"choice-{L}")
                               for L in LETTERS]
                response_a = gr.Textbox(label="Response A", lines=4, elem_id="response-a")
                response_b = gr.Textbox(label="Response B", lines=4, elem_id="response-b")
                submit = gr.Button("Judge", variant="primary", elem_id="judge")
            with gr.Column():
                verdict = gr.Textbox(label="Verdict (A, B or TIE)", interactive=False,
                                     elem_id="verdict")
                meaning = gr.Textbox(label="What it means", interactive=False,
                                     elem_id="meaning")
                swap = gr.Textbox(label="Swap check", interactive=False, lines=2,
                                  elem_id="swap-check")
                reasoning = gr.Textbox(label="Reasoning", interactive=False, lines=6,
                                       elem_id="reasoning")
                replies = gr.Textbox(label="The judge's replies (swapped order as the "
                                           "judge saw it: A and B exchanged)",
                                     interactive=False, lines=4, elem_id="replies")
                with gr.Accordion("The whole output row (as `bias-judge judge` writes it)",
                                  open=False):
                    row = gr.JSON(elem_id="row")
        submit.click(run, inputs=[question, *choices, response_a, response_b],
                     outputs=[verdict, meaning, swap, reasoning, replies, row],
                     api_name="judge")
    return app


def serve(app, *, host: str | None, port: int | None, block: bool = True):
    """Start the page (None: Gradio's own defaults and environment, as on a Space). Blocks
    until interrupted unless `block` is false."""
    import gradio as gr

    theme = gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=list(MONO_FONTS))
    # ssr_mode off: server-side rendering would start a Node.js server beside Python.
    return app.launch(server_name=host, server_port=port, theme=theme, ssr_mode=False,
                      prevent_thread_lock=not block, footer_links=["api"])


def run_demo(model_dir, *, engine: str, dtype: str, max_model_len: int, engine_options: dict,
             base_url: str | None, settings: JudgeSettings, host: str | None, port: int | None,
             published: str | None = None) -> None:
    """Check the folder, load the engine once, and serve the page on host:port until
    interrupted. Everything that can be refused (no Gradio, a bad folder, guided decoding on
    transformers) is refused before the model loads."""
    import time

    from bias_judge.core.progress import note
    from bias_judge.evaluation.inference import load_engine
    from bias_judge.evaluation.generation import check_guided
    from bias_judge.models.folder import check_model_folder

    problem = gradio_problem()
    if problem:
        raise InputError(problem, field="gradio")
    check_model_folder(model_dir)
    check_guided(settings.guided, engine, model_dir)
    started = time.monotonic()
    eng = load_engine(model_dir, engine=engine, dtype=dtype, max_model_len=max_model_len,
                      seed=settings.seed, base_url=base_url, batch_size=settings.batch_size,
                      **engine_options)
    note(f"demo: {eng.name} engine ({getattr(eng, 'base_url', None) or eng.dtype}) ready in "
         f"{time.monotonic() - started:.1f} s")
    try:
        serve(build_app(Demo(eng, settings), model=str(model_dir), published=published),
              host=host, port=port)
    finally:
        eng.close()


def gradio_problem() -> str | None:
    """Why the page cannot be served here (Gradio missing), or None."""
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        return ("the demo needs Gradio, which is not installed; install it with "
                "pip install 'bias-judge[demo]'")
    return None


__all__ = ["Demo", "MEANING", "Shown", "build_app", "describe_settings", "gradio_problem",
           "pair_from_form", "present", "run_demo", "serve"]
