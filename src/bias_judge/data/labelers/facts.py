"""What a labeler may know about a pair: each response's level and chosen option, which
option is correct, which is the stereotype's target, and whether the context decides.

Pairs built by this pipeline carry these as `facts`; imported (published) pairs carry only
the two levels, so the rest is inferred from the chosen letters: the clean response's letter
is the correct one, the biased response's letter is the target, and a tracked pair's two
wrong letters leave the third as the correct one.
"""

from __future__ import annotations

from dataclasses import dataclass

from bias_judge.core.vocabulary import LETTERS
from bias_judge.data.classify import is_hedged, parse_choice, word_count


CATEGORY_WORDS = {
    "age": "age",
    "disability_status": "disability",
    "gender_identity": "gender",
    "nationality": "nationality",
    "physical_appearance": "appearance",
    "race_ethnicity": "racial or ethnic",
    "race_x_gender": "race-and-gender",
    "race_x_ses": "race-and-class",
    "religion": "religious",
    "ses": "class",
    "sexual_orientation": "sexual-orientation",
}

# BBQ's stereotyped-group codes that do not read as English on their own.
GROUP_WORDS = {
    "f": "women", "m": "men", "old": "older people", "nonold": "younger people",
    "low ses": "people with low incomes", "high ses": "people with high incomes",
    "trans": "trans people", "negdress": "people dressed in worn or unfashionable clothes",
    "visibledifference": "people with a visible difference", "obese": "people with obesity",
    "mentally-ill": "people with a mental illness", "d/deaf": "deaf people",
    "down's syndrome": "people with Down's syndrome",
}
_PLURAL_NOUNS = ("people", "women", "men", "persons")


def group_phrase(groups: tuple[str, ...] | list[str]) -> str | None:
    """Readable words for BBQ's stereotyped_groups ("F" -> "women", ["Black", "African
    American"] -> "Black or African American people"), or None when the list is too long to
    name (the category then stands for it)."""
    groups = [g for g in groups if g.strip()]
    if len(groups) > 1 and groups[0].lower() == "disabled":
        groups = groups[1:]          # "disabled" + the specific disability: keep the specific
    if not groups or len(groups) > 2:
        return None
    nouns, adjectives = [], []
    for g in groups:
        mapped = GROUP_WORDS.get(g.strip().lower())
        if mapped:
            nouns.append(mapped)
        elif g.split()[-1].lower() in _PLURAL_NOUNS:
            nouns.append(g)
        else:
            adjectives.append(g)
    parts = nouns + ([" or ".join(adjectives) + " people"] if adjectives else [])
    return " or ".join(parts)


# BBQ's "cannot be decided" options, lower-cased.
UNKNOWN_OPTIONS = frozenset({
    "unknown", "not known", "undetermined", "cannot answer", "can't answer",
    "cannot be determined", "can't be determined", "not answerable", "not enough info",
    "not enough information",
})



def final_question(text: str) -> str | None:
    """The closing question sentence of a BBQ context+question text, if it ends with one."""
    text = text.strip()
    if not text.endswith("?"):
        return None
    start = max(text.rfind(mark, 0, len(text) - 1) for mark in ".!?") + 1
    return text[start:].strip() or None


@dataclass(frozen=True)
class PairFacts:
    pair_id: str
    category: str
    bucket: str
    levels: dict            # slot ("A"/"B") -> biased | unclear | neutral | None
    chosen: dict            # slot -> chosen option letter or None
    options: dict           # option letter -> option text
    unknown_letter: str | None
    correct_letter: str | None
    target_letter: str | None
    context: str | None     # ambig | disambig | None (not known)
    groups: tuple[str, ...]
    question: str | None
    texts: dict             # slot -> response text
    trusted: bool           # the chosen letters agree with the levels

    def option(self, letter: str | None) -> str | None:
        """'option B ("Unknown")', or None when the letter is not known."""
        if letter is None or letter not in self.options:
            return None
        return f'option {letter} ("{self.options[letter]}")'

    def hedged(self, slot: str) -> bool:
        return is_hedged(self.texts[slot])

    def words(self, slot: str) -> int:
        return word_count(self.texts[slot])

    @property
    def category_words(self) -> str:
        return CATEGORY_WORDS.get(self.category, self.category.replace("_", " "))


def level_from_letters(chosen: str | None, correct: str | None, target: str | None) -> str | None:
    """The level of a chosen letter (docs/data-formats.md#candidates); None when undecidable."""
    if chosen is None or correct is None:
        return None
    if chosen == correct:
        return "neutral"
    if target is not None and chosen == target:
        return "biased"
    return "unclear"


def _letters_fit_levels(chosen: dict, levels: dict) -> bool:
    """Same level, same letter; different levels, different letters; nothing unparsed."""
    a, b = chosen["A"], chosen["B"]
    if a is None or b is None or None in levels.values():
        return False
    return (a == b) == (levels["A"] == levels["B"])


def _unknown_letter(options: dict) -> str | None:
    found = [l for l, text in options.items() if text.strip().lower().rstrip(".") in UNKNOWN_OPTIONS]
    return found[0] if len(found) == 1 else None


def pair_facts(pair: dict) -> PairFacts:
    given = pair.get("facts") or {}
    options = {c["letter"]: c["text"] for c in pair["answer_choices"]}
    slots = {"A": pair["response_a"], "B": pair["response_b"]}
    chosen = {}
    for slot, key in (("A", "chosen_a"), ("B", "chosen_b")):
        chosen[slot] = given[key] if key in given else parse_choice(slots[slot]["text"])

    correct = given.get("correct_letter")
    target = given.get("target_letter")
    levels = {s: r.get("suspected_bias_level") for s, r in slots.items()}
    for s in slots:
        if levels[s] is None:
            levels[s] = level_from_letters(chosen[s], correct, target)
    trusted = _letters_fit_levels(chosen, levels)
    if not trusted:
        # Our parse disagrees with the classification that produced the levels (a different
        # parser, or a response naming two options): quote no option rather than a wrong one.
        chosen = {s: None for s in slots}

    if correct is None:
        clean = [chosen[s] for s in slots if levels[s] == "neutral" and chosen[s]]
        if clean:
            correct = clean[0]
    if target is None:
        biased = [chosen[s] for s in slots if levels[s] == "biased" and chosen[s]]
        if biased:
            target = biased[0]
    if correct is None:
        wrong = {chosen[s] for s in slots if levels[s] in ("biased", "unclear") and chosen[s]}
        if len(wrong) == 2:
            correct = next(l for l in LETTERS if l not in wrong)

    unknown = _unknown_letter(options)
    context = given.get("context_condition")
    if context is None and correct is not None and unknown is not None:
        context = "ambig" if correct == unknown else "disambig"

    return PairFacts(
        pair_id=pair["pair_id"],
        category=pair["bias_category"],
        bucket=pair["pair_category"],
        levels=levels,
        chosen=chosen,
        options=options,
        unknown_letter=unknown,
        correct_letter=correct,
        target_letter=target,
        context=context,
        groups=tuple(given.get("stereotyped_groups") or ()),
        question=final_question(pair["question_text"]),
        texts={s: r["text"] for s, r in slots.items()},
        trusted=trusted,
    )
