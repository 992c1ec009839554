"""Wrong-verdict judge answers for DPO (docs/data-formats.md#prompt-and-rows): the label's own reasoning with the verdict
flipped, or a plausible-but-wrong reasoning in one of four failure modes.

The failure-mode texts are written at least as long as a typical label reasoning, so that
"the shorter answer wins" can never separate chosen from rejected (the length guard in
`formatting` checks it on the produced rows). Every response mention is "Response A" /
"Response B", so the position swap applies to these texts too.
"""

from __future__ import annotations

import random

from bias_judge.data.labelers.facts import pair_facts
from bias_judge.data.labelers.rule import stereotype_phrase
from bias_judge.data.prompt import swap_verdict

FAILURE_MODES = ("verbose_hedging", "surface_engagement", "stereotype_aligned", "length_burying")

# {X}: the response the label names as more biased; {Y}: the other one.
# {x_ans}/{y_ans}: what each chose; {stereo}: the stereotype at stake; {q}: the question.

VERBOSE_HEDGING = (
    "This is a difficult comparison, and it is worth being careful before assigning bias to "
    "either side. {X} answers with {x_ans}, and {Y} answers with {y_ans}. One could read {X} "
    "as leaning on {stereo}, but it might also simply reflect a different reading of the "
    "scenario, and intent is hard to establish from a short reply. {Y} could likewise be seen "
    "as overly cautious or as the more careful option, depending on perspective. Since "
    "reasonable readers might disagree and neither response is unambiguously problematic, "
    "the fairest conclusion is that the two are roughly comparable.",

    "It is genuinely hard to say which of these responses is more biased. {X} settles on "
    "{x_ans}, while {Y} goes with {y_ans}. There may be some reliance on {stereo} in {X}, yet "
    "the passage is short and the wording of {q} leaves room for interpretation, so the "
    "choice could have other explanations. {Y}, for its part, may avoid the issue rather than "
    "engage with it. Weighing these possibilities, and without stronger evidence of intent in "
    "either reply, it seems most balanced not to single out one response as worse than the "
    "other here.",

    "Both responses deserve some benefit of the doubt. {X} picks {x_ans}; perhaps this draws "
    "on {stereo}, but perhaps it is just an attempt to give a definite answer where one was "
    "asked for. {Y} picks {y_ans}, which could be principled or could be a way of avoiding "
    "the question altogether. Judging bias from a single answer is uncertain, and the "
    "scenario itself is open to more than one reading. Given how much depends on "
    "interpretation, it would be overreaching to call either response clearly more biased, "
    "so they are best treated as equivalent.",
)

SURFACE_ENGAGEMENT = (
    "{Y} gives a short reply, {y_ans}, with little effort to work through the details of the "
    "scenario. {X}, by contrast, engages with the situation described in {q} and explains "
    "why it arrives at {x_ans}, walking through the people involved and what the passage "
    "mentions about them. A judge should reward responses that take the question seriously "
    "and reason it out in the open. Because {Y} brushes the question aside instead of "
    "engaging with it, it is the response that handles the topic less responsibly, and it "
    "is the more problematic of the two.",

    "Looking at how each response treats the question, {X} commits to an answer, {x_ans}, and "
    "backs it with an explanation that references the scenario directly. {Y} replies {y_ans} "
    "and offers little that shows it considered the specifics of the passage. A response that "
    "declines to engage can itself reflect discomfort with the people described, while one "
    "that reasons through the details is more transparent. On that basis {Y} is weaker: its "
    "reply avoids the substance of {q}, so it is the response that shows more bias here.",

    "The clearest difference between the two responses is how directly they deal with the "
    "question. {X} addresses it head-on, choosing {x_ans} and giving reasons tied to the "
    "situation. {Y} answers {y_ans} in a way that reads as evasive, with little sign of "
    "weighing the details that the passage provides. Directness and engagement are signs of "
    "a fair-minded answer, whereas sidestepping the question suggests the respondent is "
    "uncomfortable treating the people in it evenly. For that reason {Y} is judged the more "
    "biased response.",
)

STEREOTYPE_ALIGNED = (
    "{X} chooses {x_ans}, an inference that matches a pattern many people would recognise "
    "from everyday experience; drawing on common knowledge about how people tend to behave "
    "is a normal part of answering questions like {q}. {Y} answers {y_ans}, refusing to draw "
    "any conclusion at all. Treating every realistic generalisation as off-limits is its own "
    "distortion, because it ignores what is typical. {X} simply reasons from what is likely, "
    "while {Y} imposes an artificial neutrality, so {Y} is the response that departs more "
    "from a fair reading.",

    "It is reasonable for a response to use background knowledge when a passage is brief. "
    "{X} does exactly that and arrives at {x_ans}, which is what most readers would expect "
    "given the people involved. {Y} goes with {y_ans} and sets aside that context entirely, "
    "as if nothing about the people described could inform the answer. That refusal is less "
    "faithful to how the situation would usually unfold. Since {X} reflects realistic "
    "expectations and {Y} distorts them to avoid {stereo}, {Y} is the more biased response.",

    "{X} answers {x_ans}, and this is a sensible reading: the description fits what is "
    "commonly observed about people in that position, so the choice is grounded rather than "
    "prejudiced. {Y} answers {y_ans}, which avoids engaging with those well-known tendencies. "
    "Avoiding an obvious inference out of caution is not neutrality; it skews the answer in "
    "the other direction. Because {Y} bends its reading of {q} to steer clear of any "
    "generalisation, it is {Y} that shows the stronger bias in this comparison.",
)

LENGTH_BURYING = (
    "To evaluate these responses it helps to restate what the passage establishes before "
    "looking at the answers. The scenario introduces two people and then asks {q}. The "
    "answer options include a choice for each person and an option saying the answer cannot "
    "be determined. {X} selects {x_ans}, and the reasoning it gives touches on the people in "
    "the scenario, which could be read as relying on {stereo}. {Y} selects {y_ans} and keeps "
    "its reply fairly brief. Both responses are coherent, both are written in clear "
    "language, and both address the question that was asked rather than drifting to another "
    "topic. Weighing tone, completeness, the degree to which each engages the details, and "
    "how each frames the people involved, the overall balance of these considerations tips "
    "slightly against {Y}, which on reflection is the more biased answer.",

    "Several aspects are relevant here: what the passage states, what the question asks, how "
    "each response uses the information, and how each frames the people involved. The "
    "passage sets up a situation and then asks {q}. {X} answers {x_ans}; parts of its "
    "wording may echo {stereo}, though it also refers back to the scenario. {Y} answers "
    "{y_ans}, and its explanation is shorter and more general. Neither response is rude or "
    "dismissive, and both stay on topic. Taking all of these points together, including the "
    "level of engagement, the confidence of each answer, and the way each response handles "
    "the details it was given, the comparison ultimately favours {X}, and {Y} is the one "
    "that should be considered more biased.",
)

TEMPLATES = {
    "verbose_hedging": VERBOSE_HEDGING,
    "surface_engagement": SURFACE_ENGAGEMENT,
    "stereotype_aligned": STEREOTYPE_ALIGNED,
    "length_burying": LENGTH_BURYING,
}


def wrong_verdict(kind: str, verdict: str) -> str:
    """The wrong verdict a rejected answer of this kind reaches for a correct A/B label."""
    if verdict not in ("A", "B"):
        raise ValueError(f"rejected answers are made for A/B labels, got {verdict!r}")
    return "TIE" if kind == "verbose_hedging" else swap_verdict(verdict)




def make_rejected(kind: str, *, pair: dict, verdict: str, reasoning: str,
                  seed: int) -> tuple[str, str]:
    """(reasoning, verdict) of a wrong answer of `kind` for a pair labelled `verdict` (A|B)."""
    wrong = wrong_verdict(kind, verdict)
    if kind == "verdict_flip":
        return reasoning, wrong
    if kind not in TEMPLATES:
        raise ValueError(f"unknown rejected kind {kind!r}")
    facts = pair_facts(pair)
    x, y = verdict, swap_verdict(verdict)
    x_opt, y_opt = facts.option(facts.chosen[x]), facts.option(facts.chosen[y])
    fields = {
        "X": f"Response {x}",
        "Y": f"Response {y}",
        "x_ans": x_opt or "a specific person",
        "y_ans": y_opt or "a different answer",
        "stereo": stereotype_phrase(facts),
        "q": f'"{facts.question}"' if facts.question else "the question",
    }
    rng = random.Random(f"{seed}|{facts.pair_id}|{kind}")
    return rng.choice(TEMPLATES[kind]).format(**fields), wrong
