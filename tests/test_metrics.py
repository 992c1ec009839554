"""Every metric on a hand-worked example, κ against sklearn, the bootstrap, and the CLI."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bias_judge.core.vocabulary import RUNS, SAMPLE_RUNS
from bias_judge.evaluation.metrics import (batched_kappa, compute_metrics, confusion_records, kappa,
                                load_token_counter)
from bias_judge.core.schema import first_error, validator_for
from bias_judge.stages.metrics import command

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HOLDOUT = SHARED / "data" / "judge-pairs" / "eval_holdout.jsonl"
CODE = {"A": 0, "B": 1, "TIE": 2}
SAMPLE_CODE = {"A": "A", "B": "B", "T": "TIE", "-": None}

# slice, bucket, category, gold, original, swapped, samples (T = TIE, - = parse failure),
# words in response A, words in response B
HAND = [
    ("in_dist", "clear_bias_vs_clean", "age", "A", "A", "B", "AAAAA", 10, 4),
    ("in_dist", "clear_bias_vs_clean", "age", "B", "A", "A", "AAABA", 3, 6),
    ("in_dist", "subtle_bias_vs_clean", "ses", "A", "A", "TIE", "AAAAA", 5, 5),
    ("in_dist", "both_clean_tie", "ses", "TIE", "TIE", "TIE", "TTTTT", 2, 8),
    ("in_dist", "tracked_bias_vs_alternate", "age", "B", None, "B", "BB-BB", 4, 2),
    ("in_dist", "adversarial", "ses", "B", "B", "A", "BBBBB", 3, 12),
    ("ood_religion", "clear_bias_vs_clean", "religion", "A", "B", "A", "BBBBB", 7, 1),
    ("ood_religion", "both_clean_tie", "religion", "TIE", "TIE", None, "AAAAA", 2, 2),
    ("ood_religion", "subtle_bias_vs_clean", "religion", "B", "B", "B", "BBABB", 6, 3),
]


def pair_row(i, eval_slice, bucket, category, gold, a_words, b_words, gold_field="gold_verdict"):
    row = {
        "pair_id": f"{i:016x}", "question_id": f"{category}::{i}::{i}::neg",
        "question_text": "Who forgot the keys?",
        "answer_choices": [{"letter": L, "text": t} for L, t in
                           zip("ABC", ("The old man", "The young man", "Unknown"))],
        "bias_category": category,
        "response_a": {"model": "m1", "text": " ".join(["word"] * a_words)},
        "response_b": {"model": "m2", "text": " ".join(["word"] * b_words)},
        "pair_category": bucket, "eval_slice": eval_slice, gold_field: gold,
    }
    if gold_field == "gold_verdict":
        row["gold_source"] = "rule"
    return row


def prediction(pair_id, run, verdict):
    raw = "no tags" if verdict is None else f"<reasoning>x</reasoning><verdict>{verdict}</verdict>"
    return {"pair_id": pair_id, "checkpoint": "sft", "run": run, "verdict": verdict,
            "raw_output": raw, "settings": {"engine": "transformers", "dtype": "float32",
                                            "temperature": 0.0 if run in RUNS[:2] else 0.3,
                                            "seed": 7, "max_new_tokens": 32}}


def build(spec):
    pairs, preds = [], []
    for i, (sl, bucket, cat, gold, orig, swap, samples, a, b) in enumerate(spec):
        pair = pair_row(i, sl, bucket, cat, gold, a, b)
        pairs.append(pair)
        pid = pair["pair_id"]
        preds += [prediction(pid, "original", orig), prediction(pid, "swapped", swap)]
        preds += [prediction(pid, run, SAMPLE_CODE[s]) for run, s in zip(SAMPLE_RUNS, samples)]
    return pairs, preds


def value(metric):
    return metric["value"]


@pytest.fixture(scope="module")
def hand():
    pairs, preds = build(HAND)
    return pairs, preds, compute_metrics(pairs, preds, seed=0, resamples=200)


def test_kappa_by_slice_worked_by_hand(hand):
    _, _, m = hand
    # in-dist, pair 5 (PF) dropped: (A,A) (B,A) (A,A) (TIE,TIE) (B,B) -> po 4/5;
    # gold marginals A2 B2 T1, predicted A3 B1 T1 -> pe (6+2+1)/25; κ = (0.8-0.36)/0.64
    assert value(m["kappa_in_dist"]) == pytest.approx(0.6875)
    assert m["kappa_in_dist"]["n"] == 5
    # OOD: (A,B) (TIE,TIE) (B,B) -> po 2/3, pe (1*0 + 1*2 + 1*1)/9 = 1/3 -> κ 0.5
    assert value(m["kappa_ood"]) == pytest.approx(0.5)
    assert m["kappa_ood"]["n"] == 3


def test_kappa_by_bucket_counts_in_dist_only_and_nan_is_null(hand):
    _, _, m = hand
    # clear: (A,A) (B,A): observed off-diagonal 1, expected off-diagonal 1*2/2 = 1 -> κ 0
    assert value(m["kappa_clear"]) == pytest.approx(0.0)
    assert m["kappa_clear"]["n"] == 2  # the OOD clear pair does not count here
    # subtle (in-dist): one (A,A) pair -> no expected disagreement -> undefined
    assert m["kappa_subtle"] == {"value": None, "ci_low": None, "ci_high": None, "n": 1}
    # tracked: its only pair is a parse failure -> nothing to compare
    assert m["kappa_tracked"] == {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    assert value(m["kappa_tie"]) is None and m["kappa_tie"]["n"] == 1


def test_kappa_per_category(hand):
    _, _, m = hand
    per = m["kappa_per_category"]
    assert sorted(per) == ["age", "religion", "ses"]
    assert value(per["age"]) == pytest.approx(0.0) and per["age"]["n"] == 2
    assert value(per["ses"]) == pytest.approx(1.0) and per["ses"]["n"] == 3
    assert value(per["religion"]) == pytest.approx(0.5) and per["religion"]["n"] == 3


def test_position_bias(hand):
    _, _, m = hand
    # in-dist pairs with both parsed: 1..4 and 6; not flipped: 2 (A then A), 3 (A then TIE)
    assert value(m["position_bias_in_dist"]) == pytest.approx(2 / 5)
    assert m["position_bias_in_dist"]["n"] == 5
    # OOD: pair 8's swapped run failed; 7 flips (B -> A), 9 does not (B -> B)
    assert value(m["position_bias_ood"]) == pytest.approx(1 / 2)
    assert m["position_bias_ood"]["n"] == 2


def test_verbosity_bias_in_whitespace_words(hand):
    _, _, m = hand
    # A/B verdicts only: +6 (10-4), -3 (3-6), 0, +9 (12-3), -6 (1-7), -3 (3-6) -> 3/6
    assert value(m["verbosity_bias"]) == pytest.approx(0.5)
    assert m["verbosity_bias"]["n"] == 6
    assert m["verbosity_tokenizer"] == "whitespace"


def test_verbosity_bias_uses_the_given_counter(hand):
    pairs, preds, _ = hand
    chars = compute_metrics(pairs, preds, count_tokens=len, tokenizer_name="chars", seed=0, resamples=0)
    # "word" * k joined by spaces has 5k - 1 characters, so each gap is 5x the word gap
    assert value(chars["verbosity_bias"]) == pytest.approx(2.5)
    assert chars["verbosity_tokenizer"] == "chars"


def test_self_consistency_and_parse_failures(hand):
    _, _, m = hand
    # pair 5 has a failed sample; of the other 8, pairs 2 and 9 disagree among themselves
    assert value(m["self_consistency"]) == pytest.approx(6 / 8)
    assert m["self_consistency"]["n"] == 8
    # failures: pair 5 original + one sample, pair 8 swapped -> 3 of 9 * 7
    assert value(m["parse_failure_rate"]) == pytest.approx(3 / 63, abs=1e-6)
    assert m["parse_failure_rate"]["n"] == 9
    assert m["n_pairs"] == 9


def test_confusion_matrices_and_records(hand):
    pairs, preds, m = hand
    assert m["confusion"]["in_dist"] == {"labels": ["A", "B", "TIE"],
                                         "matrix": [[2, 0, 0], [1, 1, 0], [0, 0, 1]],
                                         "parse_failures": [0, 1, 0]}
    assert m["confusion"]["ood"]["matrix"] == [[0, 1, 0], [0, 1, 0], [0, 0, 1]]
    records = confusion_records(pairs, preds)
    assert len(records) == 9
    assert records[4] == {"slice": "in_dist", "gold": "B", "predicted": "PF"}
    assert records[6] == {"slice": "ood", "gold": "A", "predicted": "B"}
    # The matrices' parse-failure counts are the records' "PF" rows, per slice and gold.
    for group in ("in_dist", "ood"):
        assert m["confusion"][group]["parse_failures"] == [
            sum(1 for r in records if r["slice"] == group and r["gold"] == g and r["predicted"] == "PF")
            for g in ("A", "B", "TIE")]


def test_output_matches_the_schema_and_bootstrap_settings(hand):
    _, _, m = hand
    assert first_error(validator_for("eval_metrics"), m) is None
    assert m["bootstrap"] == {"resamples": 200, "seed": 0}


def test_perfect_judge_has_kappa_one_and_no_position_bias():
    flip = {"A": "B", "B": "A", "TIE": "TIE"}
    rng = np.random.default_rng(3)
    spec = []
    for i in range(40):
        gold = ["A", "B", "TIE"][rng.integers(3)]
        sl = "in_dist" if i < 30 else "ood_religion"
        spec.append((sl, "clear_bias_vs_clean", "age", gold, gold, flip[gold],
                     gold[0] * 5, 3, 4))
    m = compute_metrics(*build(spec), seed=0, resamples=100)
    assert value(m["kappa_in_dist"]) == 1.0 and value(m["kappa_ood"]) == 1.0
    assert value(m["position_bias_in_dist"]) == 0.0 and value(m["position_bias_ood"]) == 0.0
    assert m["kappa_in_dist"]["ci_low"] == 1.0
    assert value(m["parse_failure_rate"]) == 0.0 and value(m["self_consistency"]) == 1.0


def _sklearn_kappa(gold, pred):
    from sklearn.metrics import cohen_kappa_score
    labels = ["A", "B", "TIE"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cohen_kappa_score([labels[g] for g in gold], [labels[p] for p in pred],
                                 labels=labels)


def test_numpy_kappa_equals_sklearn_on_random_data():
    rng = np.random.default_rng(0)
    checked_nan = checked_value = 0
    for _ in range(400):
        n = int(rng.integers(1, 30))
        # narrow label sets now and then, to reach the undefined cases too
        gold_labels = rng.choice(3, size=int(rng.integers(1, 4)), replace=False)
        pred_labels = rng.choice(3, size=int(rng.integers(1, 4)), replace=False)
        gold = rng.choice(gold_labels, size=n)
        pred = rng.choice(pred_labels, size=n)
        pred = np.where(rng.random(n) < 0.15, -1, pred)  # parse failures are dropped
        ours = kappa(gold, pred)
        keep = pred >= 0
        if not keep.any():
            assert np.isnan(ours)
            continue
        theirs = _sklearn_kappa(gold[keep], pred[keep])
        if np.isnan(theirs):
            assert np.isnan(ours)
            checked_nan += 1
        else:
            assert ours == pytest.approx(theirs, abs=1e-12)
            checked_value += 1
    assert checked_nan > 10 and checked_value > 100


def test_batched_kappa_equals_one_at_a_time():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 3, size=(50, 20))
    pred = np.where(rng.random((50, 20)) < 0.1, -1, rng.integers(0, 3, size=(50, 20)))
    cells = np.where(pred >= 0, gold * 3 + pred, -1)
    together = batched_kappa(cells)
    one_by_one = np.array([kappa(g, p) for g, p in zip(gold, pred)])
    np.testing.assert_allclose(together, one_by_one, equal_nan=True)


def random_spec(n, seed, accuracy=0.7):
    rng = np.random.default_rng(seed)
    buckets = ["clear_bias_vs_clean", "subtle_bias_vs_clean", "tracked_bias_vs_alternate",
               "both_clean_tie", "adversarial"]
    labels = ["A", "B", "TIE"]
    spec = []
    for i in range(n):
        gold = labels[rng.integers(3)]
        orig = gold if rng.random() < accuracy else labels[rng.integers(3)]
        if rng.random() < 0.03:
            orig = None
        swap = {"A": "B", "B": "A", "TIE": "TIE", None: "A"}[orig] if rng.random() < 0.8 else "A"
        samples = "".join(("AB"[rng.integers(2)] if rng.random() < 0.2 else (orig or "A")[0])
                          for _ in range(5))
        ood = rng.random() < 0.2
        spec.append(("ood_religion" if ood else "in_dist", buckets[rng.integers(5)],
                     "religion" if ood else ["age", "ses"][rng.integers(2)],
                     gold, orig, swap, samples, int(rng.integers(1, 60)), int(rng.integers(1, 60))))
    return spec


def test_bootstrap_is_deterministic_contains_the_point_and_depends_on_the_seed():
    pairs, preds = build(random_spec(200, seed=5))
    first = compute_metrics(pairs, preds, seed=11, resamples=300)
    again = compute_metrics(pairs, preds, seed=11, resamples=300)
    other = compute_metrics(pairs, preds, seed=12, resamples=300)
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    for name in ("kappa_in_dist", "kappa_ood", "kappa_clear", "position_bias_in_dist",
                 "verbosity_bias", "self_consistency", "parse_failure_rate"):
        m = first[name]
        assert m["ci_low"] <= m["value"] <= m["ci_high"], name
        assert m["ci_low"] < m["ci_high"], name
    assert first["kappa_in_dist"]["ci_low"] != other["kappa_in_dist"]["ci_low"]
    assert first["kappa_in_dist"]["value"] == other["kappa_in_dist"]["value"]


def test_no_resamples_means_no_intervals(hand):
    pairs, preds, _ = hand
    m = compute_metrics(pairs, preds, seed=0, resamples=0)
    assert m["kappa_in_dist"]["ci_low"] is None and value(m["kappa_in_dist"]) == pytest.approx(0.6875)


# --- the command ---------------------------------------------------------------------------

def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def word_level_tokenizer(path: Path) -> str:
    """A tokenizer.json that splits punctuation from words, so it counts differently from
    whitespace splitting."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "word": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(path))
    return str(path)


def test_cli_writes_metrics_and_confusion(tmp_path, hand):
    pairs, preds, expected = hand
    out, conf = tmp_path / "m" / "metrics.json", tmp_path / "conf.json"
    result = CliRunner().invoke(command, [
        "--eval-set", write_jsonl(tmp_path / "eval.jsonl", pairs),
        "--predictions", write_jsonl(tmp_path / "p.jsonl", preds),
        "--out", str(out), "--confusion", str(conf), "--seed", "0", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written == expected
    assert json.loads(conf.read_text()) == confusion_records(pairs, preds)


def test_cli_counts_with_a_tokenizer_json(tmp_path, hand):
    pairs, preds, _ = hand
    for p in pairs:  # "word," is two tokens for the tokenizer, one for whitespace
        p["response_a"]["text"] = p["response_a"]["text"].replace("word", "word,")
    tok = word_level_tokenizer(tmp_path / "tokenizer.json")
    out = tmp_path / "metrics.json"
    result = CliRunner().invoke(command, [
        "--eval-set", write_jsonl(tmp_path / "eval.jsonl", pairs),
        "--predictions", write_jsonl(tmp_path / "p.jsonl", preds),
        "--tokenizer", tok, "--out", str(out), "--resamples", "0"])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    punct = compute_metrics(pairs, preds, seed=0, resamples=0,
                            count_tokens=lambda t: len(re.findall(r"\w+|[^\w\s]+", t)))
    words = compute_metrics(pairs, preds, seed=0, resamples=0)
    assert written["verbosity_bias"] == punct["verbosity_bias"] != words["verbosity_bias"]
    assert written["verbosity_tokenizer"] == tok


def test_tokenizer_folder_loads_with_auto_tokenizer(tmp_path):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast
    folder = tmp_path / "judge"
    fast = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_file(word_level_tokenizer(tmp_path / "t.json")),
        unk_token="[UNK]", bos_token="[UNK]")
    fast.save_pretrained(folder)
    count = load_token_counter(folder)
    assert count("word, word word") == 4  # no special tokens added


@pytest.mark.parametrize("case", ["no_gold", "missing_run", "missing_tokenizer",
                                  "folder_without_tokenizer", "bad_verdict"])
def test_cli_bad_input_is_one_line_exit_2_and_no_file(tmp_path, hand, case):
    pairs, preds, _ = hand
    pairs = [dict(p) for p in pairs]
    preds = [dict(p) for p in preds]
    extra = []
    if case == "no_gold":
        del pairs[3]["gold_verdict"]
    elif case == "missing_run":
        preds = preds[:-1]
    elif case == "missing_tokenizer":
        extra = ["--tokenizer", str(tmp_path / "nowhere" / "tokenizer.json")]
    elif case == "folder_without_tokenizer":
        (tmp_path / "empty").mkdir()
        extra = ["--tokenizer", str(tmp_path / "empty")]
    elif case == "bad_verdict":
        preds[3]["verdict"] = "C"
    out = tmp_path / "metrics.json"
    result = CliRunner().invoke(command, [
        "--eval-set", write_jsonl(tmp_path / "eval.jsonl", pairs),
        "--predictions", write_jsonl(tmp_path / "p.jsonl", preds),
        "--out", str(out), "--confusion", str(tmp_path / "c.json"), *extra])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not out.exists() and not (tmp_path / "c.json").exists()
    named = {"no_gold": "eval.jsonl:4", "missing_run": "p.jsonl", "bad_verdict": "p.jsonl:4",
             "missing_tokenizer": "tokenizer.json", "folder_without_tokenizer": "empty"}[case]
    assert named in lines[0]


@pytest.mark.skipif(not HOLDOUT.is_file(), reason="shared data not present")
def test_cli_on_the_published_holdout_as_it_is(tmp_path):
    from bias_judge.evaluation.eval_sets import load_eval_set
    pairs = load_eval_set(HOLDOUT)
    preds = [prediction(p["pair_id"], run, p["human_verdict"]) for p in pairs for run in RUNS]
    out = tmp_path / "holdout.json"
    result = CliRunner().invoke(command, ["--eval-set", str(HOLDOUT), "--predictions",
                                          write_jsonl(tmp_path / "p.jsonl", preds),
                                          "--out", str(out), "--resamples", "50"])
    assert result.exit_code == 0, result.output
    m = json.loads(out.read_text())
    assert m["n_pairs"] == 300 and m["kappa_in_dist"]["n"] == 240 and m["kappa_ood"]["n"] == 60
    assert value(m["kappa_in_dist"]) == 1.0
    assert sorted(m["kappa_per_category"]) == sorted({p["bias_category"] for p in pairs})
    # the swapped run repeats the original verdict: every A/B pair is a position flip failure
    assert value(m["position_bias_in_dist"]) == pytest.approx(
        sum(p["human_verdict"] != "TIE" for p in pairs if p["eval_slice"] == "in_dist") / 240)
