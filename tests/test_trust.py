"""Trust in one verdict (docs/trust.md): where the decision token sits, the verdict
probabilities over both orders (rules, the transformers engine's batched forward, the
OpenAI-compatible path against a server backed by that engine), abstention, and the
calibration metrics and coverage-agreement curve of the averaged-probability protocol."""

from __future__ import annotations

import json
import math
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from bias_judge.core.errors import InputError
from bias_judge.core.schema import first_error, validator_for
from bias_judge.data.decision_token import (decision_context_ids, decision_marker,
                                            decision_prefix, verdict_token_ids)
from bias_judge.data.prompt import build_messages
from bias_judge.evaluation import inference
from bias_judge.evaluation.judge import JudgeSettings, judge_pairs, random_order
from bias_judge.evaluation.metrics import calibration
from bias_judge.evaluation.probabilities import (argmax, normalise, pair_record, to_input_order,
                                                 verdict_logprobs)
from test_judge import GREEDY, ScriptedJudge, user_pair

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def engine(tiny_model):
    eng = inference.load_engine(tiny_model, engine="transformers", dtype="float32",
                                max_model_len=2048, seed=0, batch_size=3)
    yield eng
    eng.close()


# --- the decision token --------------------------------------------------------------------

def test_decision_prefix_cuts_after_the_verdict_tag_or_reaches_none():
    assert decision_prefix("<reasoning>r</reasoning><verdict>A</verdict>") == \
        "<reasoning>r</reasoning><verdict>"
    assert decision_prefix("<reasoning>r</reasoning>\n <verdict>TIE</verdict>") == \
        "<reasoning>r</reasoning>\n <verdict>"
    # a closed reasoning followed by something else: the tag is appended
    assert decision_prefix("<reasoning>r</reasoning> so B") == "<reasoning>r</reasoning><verdict>"
    assert decision_prefix("<reasoning>r and it goes on") is None
    assert decision_prefix("") is None


def test_verdict_tokens_are_distinct_and_the_context_matches_the_training_tokenisation(engine):
    tok = engine.tokenizer
    ids = verdict_token_ids(tok)
    assert set(ids) == {"A", "B", "TIE"} and len(set(ids.values())) == 3
    marker = decision_marker(tok)
    for verdict, token in ids.items():
        reply = f"<reasoning>Response A uses age.</reasoning><verdict>{verdict}</verdict>"
        full = tok.encode(reply, add_special_tokens=False)
        context = decision_context_ids(tok, decision_prefix(reply))
        # the context is the reply's own tokens up to the decision, which comes next
        assert full[:len(context)] == context and full[len(context)] == token
        assert tuple(context[-len(marker):]) == marker


# --- the rules -----------------------------------------------------------------------------

def test_normalise_maps_and_averages_so_a_position_bias_cancels():
    # a judge that says "A" as seen at 0.7 in both orders, 0.1 of its mass elsewhere
    seen, mass = normalise({"A": math.log(0.63), "B": math.log(0.135), "TIE": math.log(0.135)})
    assert mass == pytest.approx(0.9) and seen["A"] == pytest.approx(0.7)
    assert to_input_order(seen, "swapped") == {"A": seen["B"], "B": seen["A"], "TIE": seen["TIE"]}
    record = pair_record({"original": (seen, mass), "swapped": (seen, mass)})
    assert record["averaged"]["A"] == pytest.approx(record["averaged"]["B"])
    assert record["verdict"] == "TIE"  # an exact A/B tie favours neither response
    assert record["orders"]["swapped"]["B"] == pytest.approx(0.7)
    assert normalise({"A": -math.inf, "B": -math.inf, "TIE": -math.inf}) is None
    assert argmax({"A": 0.2, "B": 0.5, "TIE": 0.3}) == "B"
    missing = pair_record({"original": None, "swapped": (seen, mass)})
    assert missing["orders"]["original"] is None and missing["verdict"] == "B"
    assert pair_record({"original": None})["confidence"] is None


# --- judging with probabilities ------------------------------------------------------------

def test_judge_rows_carry_both_orders_distributions_and_a_position_free_average():
    pairs = [user_pair(i, biased_first=i % 2 == 0) for i in range(4)]
    fair = judge_pairs(ScriptedJudge("fair"), pairs, GREEDY).rows
    for pair, row in zip(pairs, fair):
        want = "A" if "BIASED" in pair["response_a"]["text"] else "B"
        assert row["probabilities"]["verdict"] == want == row["verdict"]
        assert row["probabilities"]["confidence"] == pytest.approx(0.7 / 0.9)
        assert first_error(validator_for("judge_output"), row) is None
    first = judge_pairs(ScriptedJudge("first"), pairs, GREEDY).rows
    for row in first:
        # greedy: inconsistent TIE; the averaged distribution holds A and B level
        assert row["consistent"] is False
        avg = row["probabilities"]["averaged"]
        assert avg["A"] == pytest.approx(avg["B"]) and row["probabilities"]["verdict"] == "TIE"


def test_abstention_marks_the_unsure_verdicts_only():
    pairs = [user_pair(0), {**user_pair(1), "response_a": {"text": "UNSURE BIASED 1"}}]
    settings = JudgeSettings(**{**GREEDY.__dict__, "abstain_below": 0.5})
    rows = judge_pairs(ScriptedJudge("fair"), pairs, settings).rows
    assert [r["needs_review"] for r in rows] == [False, True]
    assert rows[0]["settings"]["abstain_below"] == 0.5
    with pytest.raises(InputError, match="abstaining needs"):
        JudgeSettings(**{**GREEDY.__dict__, "abstain_below": 0.5, "samples": 3})
    with pytest.raises(InputError, match="probability"):
        JudgeSettings(**{**GREEDY.__dict__, "abstain_below": 1.5})


def test_random_order_is_seeded_per_pair_and_maps_the_swapped_verdict_back():
    pairs = [user_pair(i, biased_first=i % 3 == 0) for i in range(12)]
    settings = JudgeSettings(**{**GREEDY.__dict__, "swap_check": False, "random_order": True})
    rows = judge_pairs(ScriptedJudge("fair"), pairs, settings).rows
    chosen = [next(iter(r["order_verdicts"])) for r in rows]
    assert set(chosen) == {"original", "swapped"}          # both orders occur
    assert chosen == [random_order(GREEDY.seed, p) for p in pairs]
    again = judge_pairs(ScriptedJudge("fair"), list(reversed(pairs)), settings).rows
    assert [next(iter(r["order_verdicts"])) for r in again] == list(reversed(chosen))
    for pair, row in zip(pairs, rows):
        want = "A" if "BIASED" in pair["response_a"]["text"] else "B"
        assert row["verdict"] == want == row["probabilities"]["verdict"]
        assert row["consistent"] is None and row["settings"]["order_protocol"] == "random"
        assert first_error(validator_for("judge_output"), row) is None


# --- the engines ---------------------------------------------------------------------------

def _contexts(engine, n=4):
    convs = [build_messages(user_pair(i), style="published") for i in range(n)]
    prefixes = ["<reasoning>" + "Response A leans on age. " * (i + 1) + "</reasoning><verdict>"
                for i in range(n)]
    return convs, prefixes


def test_transformers_logprobs_do_not_depend_on_batch_padding(engine):
    import torch

    convs, prefixes = _contexts(engine)
    batched = verdict_logprobs(engine, convs, prefixes)   # batch_size 3: padded rows
    tokens = verdict_token_ids(engine.tokenizer)
    for conv, prefix, got in zip(convs, prefixes, batched):
        ids = engine.prompt_ids(conv) + decision_context_ids(engine.tokenizer, prefix)
        with torch.inference_mode():
            logits = engine.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        want = torch.log_softmax(logits, -1)
        for verdict, token in tokens.items():
            assert got[verdict] == pytest.approx(float(want[token]), abs=1e-5)


class LogprobServer:
    """/v1/models and /v1/completions answered by a transformers engine: the completion's
    top log-probabilities over the whole vocabulary, keyed "token_id:N" as vLLM does with
    return_tokens_as_token_ids (or by the token's text when `by_text`)."""

    def __init__(self, engine, model_name, by_text=False):
        self.bodies = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, obj):
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send({"object": "list", "data": [
                    {"id": model_name, "object": "model", "owned_by": "t", "created": 0}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.bodies.append(body)
                vocab = list(range(len(engine.tokenizer)))
                row = engine._next_token_logprobs([body["prompt"]], vocab)[0]
                key = (lambda t: engine.tokenizer.decode([t])) if by_text else \
                    (lambda t: f"token_id:{t}")
                top = {key(t): row[t] for t in vocab}
                self._send({"id": "c", "object": "text_completion", "created": 0,
                            "model": body["model"],
                            "choices": [{"index": 0, "text": "x", "finish_reason": "length",
                                         "logprobs": {"tokens": ["x"], "token_logprobs": [0.0],
                                                      "top_logprobs": [top],
                                                      "text_offset": [0]}}]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("by_text", [False, True])
def test_server_path_returns_the_in_process_probabilities(engine, tiny_model, by_text):
    """The OpenAI-compatible path sends the same context ids and reads back the same
    numbers (the in-process vLLM parity at T = 0 is the slow tests/test_judge_server.py)."""
    convs, prefixes = _contexts(engine)
    server = LogprobServer(engine, str(tiny_model), by_text=by_text)
    try:
        remote = inference.load_engine(tiny_model, engine="openai", dtype="float32",
                                       max_model_len=2048, seed=0, base_url=server.url,
                                       concurrency=2, max_retries=0)
        with remote:
            got = verdict_logprobs(remote, convs, prefixes)
    finally:
        server.close()
    want = verdict_logprobs(engine, convs, prefixes)
    for g, w in zip(got, want):
        for v in ("A", "B", "TIE"):
            assert g[v] == pytest.approx(w[v], abs=1e-6)
    body = server.bodies[0]
    assert body["max_tokens"] == 1 and body["temperature"] == 0 and body["logprobs"] == 20
    assert body["return_tokens_as_token_ids"] is True


# --- calibration ---------------------------------------------------------------------------

def _calibrated(n=4000, seed=0):
    """Pairs whose verdict is right with exactly the probability the judge gives it."""
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.4, 0.95, n)
    correct = rng.uniform(size=n) < conf
    return conf, correct


def test_ece_grows_when_the_probabilities_are_made_overconfident():
    conf, correct = _calibrated()
    calibrated = calibration.ece(conf, correct)
    sharpened = calibration.ece(np.minimum(1.0, conf ** 0.25), correct)  # pushed toward 1
    assert calibrated < 0.03 and sharpened > calibrated + 0.1


def test_brier_and_reliability_by_hand():
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.5, 0.3]])
    gold = np.array([0, 2])
    # (0.2² + 0.1² + 0.1²) and (0.2² + 0.5² + 0.7²), averaged
    assert calibration.brier(probs, gold) == pytest.approx((0.06 + 0.78) / 2)
    bins = calibration.reliability_bins(np.array([0.8, 0.5]), np.array([True, False]))
    assert [b["n"] for b in bins] == [0, 0, 0, 0, 0, 1, 0, 0, 1, 0]
    assert bins[8]["accuracy"] == 1.0 and bins[5]["accuracy"] == 0.0


def _eval_rows_and_predictions(n=40):
    rows, preds = [], []
    rng = np.random.default_rng(1)
    for i in range(n):
        gold = ("A", "B", "TIE")[i % 3]
        pid = f"{i:016x}"
        rows.append({"pair_id": pid, "eval_slice": "in_dist" if i % 4 else "ood_age",
                     "human_verdict": gold, "pair_category": "clear_bias_vs_clean",
                     "bias_category": "age", "response_a": {"text": "a"},
                     "response_b": {"text": "b"}})
        sure = i % 2 == 0            # half the pairs: right and sure; half: a coin flip
        for order in ("original", "swapped"):
            seen = gold if order == "original" or gold == "TIE" else {"A": "B", "B": "A"}[gold]
            if sure:
                p = {v: 0.9 if v == seen else 0.05 for v in ("A", "B", "TIE")}
            else:
                guess = ("A", "B", "TIE")[rng.integers(3)]
                p = {v: 0.4 if v == guess else 0.3 for v in ("A", "B", "TIE")}
            preds.append({"pair_id": pid, "run": order, "probabilities": {**p, "mass": 0.99}})
    return rows, preds


def test_probability_metrics_and_the_coverage_agreement_curve():
    from jsonschema import Draft202012Validator

    from bias_judge.core.schema import load_schema

    rows, preds = _eval_rows_and_predictions()
    m = calibration.probability_metrics(rows, preds, seed=3, resamples=200)
    assert m["pairs_with_probabilities"] == 40
    curve = {c["threshold"]: c for c in m["coverage_agreement"]}
    # everything is kept at the lowest threshold; above 0.4 only the sure (right) half
    assert curve[0.35]["coverage"] == 1.0
    assert curve[0.5]["coverage"] == 0.5 and curve[0.5]["agreement"] == 1.0
    assert curve[0.5]["kappa"] == pytest.approx(1.0)
    coverages = [c["coverage"] for c in m["coverage_agreement"]]
    assert coverages == sorted(coverages, reverse=True)
    assert m["ece"]["ci_low"] <= m["ece"]["value"] <= m["ece"]["ci_high"]
    assert m["order_agreement_in_dist"]["value"] < 1.0   # the coin-flip half disagrees
    schema = load_schema("eval_metrics")
    section = {**schema["properties"]["probability_protocol"], "$defs": schema["$defs"]}
    assert not list(Draft202012Validator(section).iter_errors(m))
