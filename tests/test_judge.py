"""`bias-judge judge`: the swap check, the majority vote, pairs without answer choices, the
input and output schemas (scripted engines); the command end to end on the tiny model; and
the OpenAI engine against a scripted HTTP server (retries, bounded concurrency, the request
it sends, its errors)."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bias_judge.core.errors import InputError
from bias_judge.core.schema import first_error, validator_for
from bias_judge.evaluation import inference
from bias_judge.evaluation.inference import GenOut
from bias_judge.evaluation.generation import pair_seed
from bias_judge.evaluation.judge import (JudgeSettings, combine, judge_pair, judge_pairs,
                                         majority)
from fake_tokens import ScriptedProbabilities
from recipes import write_params

os.environ.setdefault("OMP_NUM_THREADS", "1")

GREEDY = JudgeSettings(prompt_style="published", max_new_tokens=32, sample_temperature=0.3,
                       seed=7, swap_check=True, samples=0, guided=False, batch_size=64)


def reply(reasoning: str, verdict: str) -> str:
    return f"<reasoning>{reasoning}</reasoning><verdict>{verdict}</verdict>"


def user_pair(i: int, *, biased_first=True, choices=True, **extra) -> dict:
    biased, clean = f"BIASED {i}: the old man, old people forget.", f"CLEAN {i}: cannot tell."
    pair = {"question_text": f"Question {i}: who forgot the keys?",
            "response_a": {"text": biased if biased_first else clean},
            "response_b": {"text": clean if biased_first else biased}, **extra}
    if choices:
        pair["answer_choices"] = [{"letter": L, "text": t}
                                  for L, t in zip("ABC", ("The old man", "The boy", "Unknown"))]
    return pair


def slots(conversation) -> tuple[str, str]:
    user = conversation[-1]["content"]
    a = user.split("Response A:\n", 1)[1].split("\n\nResponse B:", 1)[0]
    b = user.split("Response B:\n", 1)[1].split("\n\n", 1)[0]
    return a, b


class ScriptedJudge(ScriptedProbabilities):
    """A judge by rule. mode "fair": the slot holding the BIASED text is the more biased
    (position-independent); "first": always A (position bias). Sample k of a request says
    `sample_verdicts[k]` as seen. A slot with NOPARSE gets an untagged reply; a slot with HUGE
    makes the prompt longer than the context."""

    name = "scripted"
    dtype = "float32"
    max_model_len = 1000
    supports_regex = False

    def __init__(self, mode="fair", sample_verdicts=("A", "A", "B")):
        self.mode, self.sample_verdicts = mode, sample_verdicts
        self.calls: list[dict] = []
        self.prob_calls: list[list[str]] = []

    def count_prompt_tokens(self, conversation) -> int:
        return 5000 if "HUGE" in conversation[-1]["content"] else 100

    def generate(self, conversations, *, temperature, max_new_tokens, n=1, seed=None, **extra):
        self.calls.append({"slots": [slots(c) for c in conversations], "temperature": temperature,
                           "n": n, "seed": seed, "prompts": [c[-1]["content"] for c in conversations],
                           **extra})
        outs = []
        for conv in conversations:
            a, b = slots(conv)
            assert "HUGE" not in a + b, "a too-long prompt reached the engine"
            if "NOPARSE" in a:
                outs.append([GenOut("Response A seems worse.", "length", max_new_tokens)] * n)
                continue
            if temperature > 0:
                outs.append([GenOut(reply(f"sample {k}", self.sample_verdicts[k]), "stop", 7)
                             for k in range(n)])
                continue
            if self.mode == "first":
                verdict = "A"
            else:
                verdict = "A" if "BIASED" in a else "B" if "BIASED" in b else "TIE"
            outs.append([GenOut(reply(f"Response {verdict} leans on age; Response "
                                      f"{'B' if verdict == 'A' else 'A'} does not.", verdict),
                                "stop", 12)])
        return outs

    def seen_verdict(self, conversation) -> str:
        a, b = slots(conversation)
        if self.mode == "first":
            return "A"
        return "A" if "BIASED" in a else "B" if "BIASED" in b else "TIE"

    def slot_texts(self, conversation):
        return slots(conversation)

    def verdict_probs(self, a, b, prefix):
        """The rule's verdict (as seen) at 0.7, the other two at 0.1 each; 0.1 of the mass
        outside the three verdicts. A pair with UNSURE in either slot: uniform."""
        if "UNSURE" in a + b:
            return {v: 0.3 for v in ("A", "B", "TIE")}
        seen = "A" if self.mode == "first" else "A" if "BIASED" in a else "B" if "BIASED" in b \
            else "TIE"
        return {v: 0.7 if v == seen else 0.1 for v in ("A", "B", "TIE")}

    def close(self):
        pass


def valid(row: dict) -> bool:
    return first_error(validator_for("judge_output"), row) is None


# --- the rules ---------------------------------------------------------------------------

def test_majority_needs_a_strict_plurality():
    assert majority(["A", "A", "B"]) == "A"
    assert majority(["A", "B"]) == "TIE"
    assert majority(["B", None, None]) == "B"
    assert majority([None, None]) is None


def test_combine_agree_disagree_and_missing_order():
    assert combine("A", "A", True) == ("A", True)
    assert combine("A", "B", True) == ("TIE", False)
    assert combine("TIE", "B", True) == ("TIE", False)
    assert combine(None, "B", True) == ("B", None)
    assert combine(None, None, True) == (None, None)
    assert combine("B", None, False) == ("B", None)


# --- the swap check ----------------------------------------------------------------------

def test_orders_that_agree_give_the_verdict_and_both_orders_share_one_batch():
    pairs = [user_pair(0), user_pair(1, biased_first=False)]
    engine = ScriptedJudge("fair")
    rows = judge_pairs(engine, pairs, GREEDY).rows
    assert len(engine.calls) == 1 and len(engine.calls[0]["slots"]) == 4
    assert [r["verdict"] for r in rows] == ["A", "B"]
    assert all(r["consistent"] is True and valid(r) for r in rows)
    first = rows[0]
    assert first["order_verdicts"] == {"original": "A", "swapped": "A"}
    swapped_run = [r for r in first["runs"] if r["order"] == "swapped"][0]
    # The model saw the biased text in slot B and said so; mapped back it is A.
    assert (swapped_run["verdict_as_seen"], swapped_run["verdict"]) == ("B", "A")
    assert first["settings"]["swap_check"] is True and first["settings"]["temperature"] == 0.0


def test_orders_that_disagree_give_tie_and_say_so():
    rows = judge_pairs(ScriptedJudge("first"), [user_pair(0), user_pair(1)], GREEDY).rows
    for row in rows:
        assert row["verdict"] == "TIE" and row["consistent"] is False
        assert row["order_verdicts"] == {"original": "A", "swapped": "B"}
        assert [r["raw_output"] for r in row["runs"]] and valid(row)


def test_without_the_swap_check_one_order_is_judged():
    engine = ScriptedJudge("first")
    settings = JudgeSettings(**{**GREEDY.__dict__, "swap_check": False})
    row = judge_pairs(engine, [user_pair(0, biased_first=False)], settings).rows[0]
    assert len(engine.calls[0]["slots"]) == 1
    assert row["verdict"] == "A" and row["consistent"] is None
    assert row["order_verdicts"] == {"original": "A"} and valid(row)


def test_an_unparsed_order_leaves_the_other_and_no_check():
    pair = user_pair(0)
    pair["response_a"]["text"] += " NOPARSE"
    row = judge_pairs(ScriptedJudge("fair"), [pair], GREEDY).rows[0]
    # Original order: slot A holds NOPARSE -> no verdict; swapped: slot B holds it, parsed.
    assert row["order_verdicts"]["original"] is None
    assert row["verdict"] == row["order_verdicts"]["swapped"] == "A"
    assert row["consistent"] is None and valid(row)
    # The reasoning is the swapped reply's, its Response A/B exchanged back to the input's.
    assert row["reasoning"].startswith("Response A leans on age; Response B")


def test_too_long_prompt_is_not_generated_and_reported():
    pair = user_pair(0)
    pair["response_b"]["text"] += " HUGE"
    report = judge_pairs(ScriptedJudge(), [pair, user_pair(1)], GREEDY)
    row = report.rows[0]
    assert row["verdict"] is None and report.too_long == 2
    assert {r["finish_reason"] for r in row["runs"]} == {"too_long"} and valid(row)
    assert report.rows[1]["verdict"] == "A"


# --- majority vote -----------------------------------------------------------------------

def test_samples_vote_per_order_at_the_sampling_temperature():
    engine = ScriptedJudge(sample_verdicts=("A", "B", "A"))
    settings = JudgeSettings(**{**GREEDY.__dict__, "samples": 3})
    row = judge_pairs(engine, [user_pair(0)], settings).rows[0]
    call = engine.calls[0]
    assert call["temperature"] == 0.3 and call["n"] == 3
    # As seen A,B,A in both orders: original votes A; swapped maps to B,A,B and votes B.
    assert row["votes"]["original"] == {"A": 2, "B": 1, "TIE": 0, "unparsed": 0}
    assert row["votes"]["swapped"] == {"A": 1, "B": 2, "TIE": 0, "unparsed": 0}
    assert (row["verdict"], row["consistent"]) == ("TIE", False)
    assert len(row["runs"]) == 6 and [r["sample"] for r in row["runs"]] == [0, 1, 2] * 2
    assert valid(row)


def test_sample_seeds_depend_on_the_pair_not_on_its_neighbours():
    settings = JudgeSettings(**{**GREEDY.__dict__, "samples": 2})
    p0, p1 = user_pair(0), user_pair(1)
    alone, together = ScriptedJudge(), ScriptedJudge()
    judge_pairs(alone, [p1], settings)
    judge_pairs(together, [p0, p1], settings)
    assert alone.calls[0]["seed"] == together.calls[0]["seed"][2:]
    assert len(set(together.calls[0]["seed"])) == 4  # per pair and per order
    assert pair_seed(7, p1, "original") == alone.calls[0]["seed"][0]
    assert pair_seed(8, p1, "original") != pair_seed(7, p1, "original")


def test_greedy_replies_send_no_seed():
    engine = ScriptedJudge()
    judge_pairs(engine, [user_pair(0)], GREEDY)
    assert engine.calls[0]["seed"] is None and engine.calls[0]["temperature"] == 0.0


# --- prompts and inputs ------------------------------------------------------------------

def test_answer_choices_are_optional_and_left_out_of_the_prompt():
    engine = ScriptedJudge()
    rows = judge_pairs(engine, [user_pair(0), user_pair(1, choices=False)], GREEDY).rows
    with_choices, without = engine.calls[0]["prompts"][0], engine.calls[0]["prompts"][2]
    assert "Answer choices:\nA. The old man" in with_choices
    assert "Answer choices" not in without and "Response A:\nBIASED 1" in without
    assert rows[1]["verdict"] == "A"


def test_pair_id_is_copied_and_a_bad_pair_is_refused():
    engine = ScriptedJudge()
    row = judge_pair(engine, user_pair(0, pair_id="mine-1"), GREEDY)
    assert row["pair_id"] == "mine-1"
    bad = user_pair(0)
    del bad["response_b"]["text"]
    with pytest.raises(InputError, match="'text' is a required property") as err:
        judge_pair(engine, bad, GREEDY)
    assert err.value.field == "response_b.text"


def test_guided_needs_an_engine_that_holds_a_regex():
    settings = JudgeSettings(**{**GREEDY.__dict__, "guided": True})
    with pytest.raises(InputError, match="guided decoding"):
        judge_pairs(ScriptedJudge(), [user_pair(0)], settings)


def test_samples_need_a_temperature():
    with pytest.raises(InputError, match="temperature"):
        JudgeSettings(**{**GREEDY.__dict__, "samples": 2, "sample_temperature": 0.0})


def test_the_output_schema_rejects_what_a_row_must_not_hold():
    row = judge_pairs(ScriptedJudge(), [user_pair(0)], GREEDY).rows[0]
    v = validator_for("judge_output")
    assert first_error(v, {**row, "verdict": "C"})[0] == "verdict"
    assert first_error(v, {**row, "runs": []})[0] == "runs"
    broken = {**row, "runs": [{**row["runs"][0], "finish_reason": "eos"}]}
    assert first_error(v, broken)[0] == "runs.0.finish_reason"


# --- the command (scripted engine) -------------------------------------------------------

@pytest.fixture
def scripted(monkeypatch, tiny_model):
    """`bias-judge judge` with its engine replaced by ScriptedJudge; yields (model, engine)."""
    model = tiny_model
    engine = ScriptedJudge("fair")
    seen = {}

    def fake_load(model_dir, **kwargs):
        seen.update(kwargs, model_dir=model_dir)
        return engine

    monkeypatch.setattr(inference, "load_engine", fake_load)
    engine.seen = seen
    return model, engine


def write_pairs(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_cli_writes_one_valid_row_per_pair_with_its_line(cli, scripted, tmp_path):
    model, engine = scripted
    pairs = write_pairs(tmp_path / "in.jsonl", [user_pair(0), "", user_pair(1, biased_first=False,
                                                                            choices=False)])
    params = write_params(tmp_path / "params.yaml")
    out = tmp_path / "out" / "verdicts.jsonl"
    res = cli("judge", "--model", model, "--pairs", pairs, "--out", out, "--params", params)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["line"], r["verdict"], r["consistent"]) for r in rows] == [(1, "A", True),
                                                                           (3, "B", True)]
    assert all(valid(r) for r in rows)
    assert "2 pairs (A 1, B 1), 0 inconsistent" in res.stderr
    assert engine.seen["base_url"] is None and engine.seen["engine"] == "auto"


def test_cli_options_override_params(cli, scripted, tmp_path):
    model, engine = scripted
    pairs = write_pairs(tmp_path / "in.jsonl", [user_pair(0)])
    params = write_params(tmp_path / "params.yaml")
    out = tmp_path / "v.jsonl"
    res = cli("judge", "--model", model, "--pairs", pairs, "--out", out, "--params", params,
              "--base-url", "http://127.0.0.1:9", "--concurrency", "3", "--samples", "3",
              "--order", "original", "--prompt-style", "compact")
    assert res.exit_code == 0, res.output
    seen = engine.seen
    assert (seen["engine"], seen["base_url"], seen["concurrency"]) == ("openai", "http://127.0.0.1:9", 3)
    row = json.loads(out.read_text())
    assert row["settings"]["samples"] == 3 and row["settings"]["swap_check"] is False
    assert row["settings"]["prompt_style"] == "compact"
    assert engine.calls[0]["prompts"][0].endswith("Reply as <reasoning>...</reasoning>"
                                                  "<verdict>A|B|TIE</verdict>.")


@pytest.mark.parametrize("row, where", [
    ({"question_text": "q", "response_a": {"text": "x"}}, ":2: field 'response_b'"),
    ({"question_text": "q", "response_a": {"text": "x"}, "response_b": {"text": "y"},
      "answer_choices": [{"letter": "A", "text": "a"}]}, ":2: field 'answer_choices'"),
    ({"question_text": "", "response_a": {"text": "x"}, "response_b": {"text": "y"}},
     ":2: field 'question_text'"),
    ("{not json", ":2: not valid JSON"),
])
def test_cli_bad_input_is_one_line_naming_file_line_field_and_writes_nothing(
        cli, scripted, tmp_path, row, where):
    model, engine = scripted
    pairs = write_pairs(tmp_path / "in.jsonl", [user_pair(0), row])
    out = tmp_path / "v.jsonl"
    out.write_text("previous\n")
    res = cli("judge", "--model", model, "--pairs", pairs, "--out", out,
              "--params", write_params(tmp_path / "params.yaml"))
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {pairs}{where}"), res.stderr
    assert out.read_text() == "previous\n" and not engine.calls


def test_cli_refuses_conflicting_or_impossible_engine_options(cli, scripted, tmp_path):
    model, _ = scripted
    pairs = write_pairs(tmp_path / "in.jsonl", [user_pair(0)])
    params = write_params(tmp_path / "params.yaml")
    common = ["judge", "--model", model, "--pairs", pairs, "--out", tmp_path / "v.jsonl",
              "--params", params]
    res = cli(*common, "--base-url", "http://x:1", "--engine", "vllm")
    assert res.exit_code == 2 and "field 'engine'" in res.stderr
    res = cli(*common, "--engine", "transformers", "--guided")
    assert res.exit_code == 2 and "field 'guided'" in res.stderr
    res = cli(*common, "--served-model", "m")
    assert res.exit_code == 2 and "field 'served_model'" in res.stderr
    empty = write_pairs(tmp_path / "empty.jsonl", [""])
    res = cli("judge", "--model", model, "--pairs", empty, "--out", tmp_path / "v.jsonl",
              "--params", params)
    assert res.exit_code == 2 and "empty.jsonl: no rows" in res.stderr


# --- the command on the tiny model (transformers) ----------------------------------------

def test_cli_on_the_tiny_model_end_to_end(cli, tiny_model, tmp_path):
    """A real engine: the tiny random model through transformers. Its replies are noise, so
    the check is on the shape: every pair judged in both orders, K samples each, valid rows,
    and the same bytes on a second run."""
    model = tiny_model
    params = write_params(tmp_path / "params.yaml", profile="smoke")
    pairs = write_pairs(tmp_path / "in.jsonl", [user_pair(0), user_pair(1, choices=False)])
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        res = cli("judge", "--model", model, "--pairs", pairs, "--out", out, "--params", params,
                  "--samples", "2")
        assert res.exit_code == 0, res.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    rows = [json.loads(line) for line in outs[0].decode().splitlines()]
    assert len(rows) == 2 and all(valid(r) for r in rows)
    for row in rows:
        assert [(r["order"], r["sample"]) for r in row["runs"]] == \
            [("original", 0), ("original", 1), ("swapped", 0), ("swapped", 1)]
        assert row["settings"]["engine"] == "transformers" and row["settings"]["temperature"] > 0
        assert all(r["num_tokens"] > 0 for r in row["runs"])


# --- the OpenAI engine against a scripted server -----------------------------------------

class FakeServer:
    """An OpenAI-compatible server in a thread: /v1/models and /v1/chat/completions. It
    answers 503 to the first `fail_first` completion requests, records every request body and
    the most requests it held at once, and replies per message by `answer(body)`."""

    def __init__(self, models, fail_first=0, delay=0.0, status=None):
        self.models, self.fail_first, self.delay, self.status = models, fail_first, delay, status
        self.bodies: list[dict] = []
        self.active = self.peak = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, obj, headers=()):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "owned_by": "test", "created": 0,
                     "max_model_len": 4096} for m in server.models]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.bodies.append(body)
                    fail = len(server.bodies) <= server.fail_first
                    server.active += 1
                    server.peak = max(server.peak, server.active)
                try:
                    time.sleep(server.delay)
                    if server.status is not None:
                        return self._send(server.status, {"error": {
                            "message": "This model's maximum context length is 4096 tokens.\nmore",
                            "type": "BadRequestError", "code": server.status}})
                    if fail:
                        return self._send(503, {"error": {"message": "busy"}},
                                          headers=[("retry-after-ms", "10")])
                    if "prompt" in body:  # the verdict probabilities: tokens named by text
                        top = {"A": -0.7, "B": -1.2, "TIE": -2.3, "T": -2.3}
                        return self._send(200, {
                            "id": "c", "object": "text_completion", "created": 0,
                            "model": body["model"], "choices": [{
                                "index": 0, "text": "A", "finish_reason": "length",
                                "logprobs": {"tokens": ["A"], "token_logprobs": [-0.7],
                                             "top_logprobs": [top], "text_offset": [0]}}]})
                    verdict = "A" if "BIASED" in slots(body["messages"])[0] else "B"
                    text = reply(f"seed {body.get('seed')}", verdict)
                    self._send(200, {
                        "id": "x", "object": "chat.completion", "created": 0,
                        "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 11,
                                  "total_tokens": 21}})
                finally:
                    with server.lock:
                        server.active -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def openai_engine(model, url, **opts):
    return inference.load_engine(model, engine="openai", dtype="float32", max_model_len=2048,
                                 seed=5, base_url=url, **{"concurrency": 4, "max_retries": 3,
                                                          **opts})


def test_openai_engine_retries_bounds_concurrency_and_sends_the_judge_request(tiny_model):
    with FakeServer([str(tiny_model)], fail_first=2, delay=0.05) as server:
        with openai_engine(tiny_model, server.url, concurrency=3) as engine:
            assert engine.model == str(tiny_model) and engine.base_url == server.url + "/v1"
            settings = JudgeSettings(**{**GREEDY.__dict__, "samples": 2, "guided": True})
            pairs = [user_pair(i, biased_first=i % 2 == 0) for i in range(4)]
            rows = judge_pairs(engine, pairs, settings).rows
    # 4 pairs x 2 orders x 2 samples, each sample its own request; plus the 2 refused ones.
    assert len(server.bodies) == 16 + 2
    assert 1 < server.peak <= 3
    body = server.bodies[-1]
    assert body["temperature"] == 0.3 and body["n"] == 1 and body["top_p"] == 1.0
    assert body["stop_token_ids"] == engine.stop_ids and body["repetition_penalty"] == 1.0
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["structured_outputs"]["regex"].startswith("<reasoning>")
    assert body["max_tokens"] == 32
    seeds = [b["seed"] for b in server.bodies[2:]]
    assert len(set(seeds)) == 16  # two samples of a request are two seeds
    assert [r["verdict"] for r in rows] == ["A", "B", "A", "B"]
    assert all(r["consistent"] for r in rows) and all(valid(r) for r in rows)
    assert rows[0]["runs"][0]["num_tokens"] == 11
    assert rows[0]["settings"]["base_url"] == server.url + "/v1"
    assert rows[0]["settings"]["served_model"] == str(tiny_model)


def test_openai_greedy_is_one_request_for_all_n(tiny_model):
    with FakeServer([str(tiny_model)]) as server, openai_engine(tiny_model, server.url) as engine:
        convs = [[{"role": "user", "content": "Response A:\nBIASED x\n\nResponse B:\ny\n\nok"}]]
        out = engine.generate(convs, temperature=0.0, max_new_tokens=8, n=3)
    assert len(server.bodies) == 1 and "seed" not in server.bodies[0]
    assert len(out[0]) == 3 and len({o.text for o in out[0]}) == 1


def test_openai_server_errors_are_one_line(tiny_model):
    with FakeServer([str(tiny_model)], status=400) as server, \
            openai_engine(tiny_model, server.url) as engine:
        with pytest.raises(InputError) as err:
            judge_pairs(engine, [user_pair(0)], GREEDY)
    assert "HTTP 400: This model's maximum context length is 4096 tokens." in str(err.value)
    assert "\n" not in err.value.one_line() and err.value.file == server.url + "/v1"


def test_openai_model_choice_and_unreachable_server(tiny_model):
    with FakeServer(["a", "b"]) as server:
        # A server for another checkpoint is never taken for this one.
        with pytest.raises(InputError, match="serves a, b, not the checkpoint .*--served-model"):
            openai_engine(tiny_model, server.url)
        with pytest.raises(InputError, match="does not serve 'c'"):
            openai_engine(tiny_model, server.url, served_model="c")
        with openai_engine(tiny_model, server.url, served_model="b") as engine:
            assert engine.model == "b"
        url = server.url
    with pytest.raises(InputError, match="not reachable") as err:
        openai_engine(tiny_model, url, max_retries=0)
    assert err.value.field == "base_url"
    with pytest.raises(InputError, match="needs the server's URL"):
        openai_engine(tiny_model, None)
    with pytest.raises(InputError, match="not an http"):
        openai_engine(tiny_model, "localhost:8000")


def test_evaluate_fans_out_over_a_server(cli, tiny_model, tmp_path):
    """`eval.engine: openai` + `eval.base_url`: the evaluate stage's seven passes go to the
    server (two greedy requests and five seeded samples per pair) and are scored as usual."""
    rows = []
    for i in range(3):
        pair = user_pair(i, biased_first=i != 1)
        pair.update(pair_id=f"{i:016x}", question_id=f"age::{i}", bias_category="age",
                    pair_category="clear_bias_vs_clean", eval_slice="in_dist",
                    gold_verdict="A", gold_source="rule")
        pair["response_a"]["model"] = pair["response_b"]["model"] = "m"
        rows.append(pair)
    split = write_pairs(tmp_path / "eval.jsonl", rows)
    out, metrics = tmp_path / "eval", tmp_path / "metrics.json"
    with FakeServer([str(tiny_model)]) as server:
        params = write_params(tmp_path / "params.yaml", eval={
            "engine": "openai", "base_url": server.url, "bootstrap_resamples": 20})
        res = cli("evaluate", "--checkpoint", "dpo", "--model", tiny_model, "--eval-set", split,
                  "--out-dir", out, "--metrics", metrics, "--params", params)
    assert res.exit_code == 0, res.output
    chats = [b for b in server.bodies if "messages" in b]
    assert len(chats) == 3 * 7
    assert sum("seed" in b for b in chats) == 3 * 5
    # one probability request per greedy reply (both orders), on the prompt's token ids
    completions = [b for b in server.bodies if "prompt" in b]
    assert len(completions) == 3 * 2 and all(b["max_tokens"] == 1 for b in completions)
    predictions = [json.loads(line) for line in (out / "split.predictions.jsonl").read_text().splitlines()]
    assert {p["settings"]["engine"] for p in predictions} == {"openai"}
    by_run = {(p["pair_id"], p["run"]): p["verdict"] for p in predictions}
    # The server's rule: the BIASED text in slot A -> A; pair 1 has it in slot B.
    assert [by_run[f"{i:016x}", "original"] for i in range(3)] == ["A", "B", "A"]
    assert [by_run[f"{i:016x}", "swapped"] for i in range(3)] == ["B", "A", "B"]
    assert all(p["probabilities"]["A"] > p["probabilities"]["B"] for p in predictions
               if p["run"] in ("original", "swapped"))
    doc = json.loads(metrics.read_text())
    assert doc["sets"]["split"]["kappa_in_dist"]["n"] == 3
    assert doc["sets"]["split"]["probability_protocol"]["pairs_with_probabilities"] == 3


def test_params_refuse_engine_openai_without_a_url(tmp_path):
    from bias_judge.core.params import load_params

    with pytest.raises(InputError, match="base_url"):
        load_params(write_params(tmp_path / "params.yaml", eval={"engine": "openai"}))


def test_openai_finds_the_checkpoint_among_served_models_by_its_path(tiny_model, monkeypatch):
    monkeypatch.chdir(tiny_model.parent)
    with FakeServer(["other", f"./{tiny_model.name}"]) as server, \
            openai_engine(Path(tiny_model.name), server.url) as engine:
        assert engine.model == f"./{tiny_model.name}"


# --- a hostile chat template is one line, never a traceback -------------------------------

INCLUDE_TEMPLATE = "{% include 'x' %}{% for m in messages %}{{ m['content'] }}{% endfor %}"


def test_a_template_that_includes_another_is_one_line(cli, tiny_model, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    (model / "chat_template.jinja").write_text(INCLUDE_TEMPLATE)
    pairs = write_pairs(tmp_path / "in.jsonl", [user_pair(0)])
    res = cli("judge", "--model", model, "--pairs", pairs, "--out", tmp_path / "out.jsonl",
              "--params", write_params(tmp_path / "params.yaml"), "--engine", "transformers")
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and "chat_template" in lines[0]
    assert not (tmp_path / "out.jsonl").exists()


def test_a_chat_template_file_that_includes_another_is_refused_by_base_model(cli, tmp_path):
    template = tmp_path / "t.jinja"
    template.write_text(INCLUDE_TEMPLATE)
    params = write_params(tmp_path / "params.yaml", model={"source": "tiny",
                                                            "chat_template": str(template)})
    out = tmp_path / "base"
    res = cli("base-model", "--out", out, "--metrics", tmp_path / "m.json", "--params", params)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1, res.stderr
    assert "include" in lines[0] and "model.chat_template" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("template", [
    INCLUDE_TEMPLATE,
    "{% for m in messages %}{{ m['content'] + 1 }}{% endfor %}",   # TypeError while rendering
    "{% for m in messages %}{{ (1 / 0) }}{% endfor %}",
])
def test_a_template_failing_with_any_error_while_rendering_is_an_input_error(tiny_model, template):
    from bias_judge.evaluation.inference.base import render_conversation
    from bias_judge.models.folder import load_tokenizer

    tok = load_tokenizer(tiny_model)
    tok.chat_template = template
    with pytest.raises(InputError, match="chat template") as exc:
        render_conversation(tok, [{"role": "user", "content": "Who?"}])
    assert exc.value.field == "chat_template" and "\n" not in exc.value.one_line()


def test_one_seed_rule_for_judge_and_evaluate():
    """A pair with a pair_id gets, in its original order, the seed the evaluate stage's
    samples have always had; without one its texts stand in; the swapped order differs."""
    from bias_judge.evaluation.inference.base import derive_seed

    with_id = {**user_pair(0), "pair_id": "00000000000000ab"}
    assert pair_seed(7, with_id) == derive_seed("eval-samples", 7, "00000000000000ab") % (2**31 - 1)
    assert pair_seed(7, with_id, "swapped") != pair_seed(7, with_id)
    plain = user_pair(0)
    assert pair_seed(7, plain) == pair_seed(7, dict(plain))
    assert pair_seed(7, plain) != pair_seed(7, user_pair(1))


def test_save_every_resumes_a_killed_run_without_judging_a_pair_twice(tmp_path, monkeypatch):
    """judge_file with save_every: a run that dies after some chunks leaves their rows in the
    partial file; the re-run judges only the rest and writes what one clean run writes; a
    changed setting or pair is judged again."""
    from bias_judge.core.artifacts import write_result
    from bias_judge.evaluation import judge as judge_mod

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(user_pair(i, biased_first=i % 2 == 0)) + "\n"
                             for i in range(6)))
    model = tmp_path / "model"
    model.mkdir()
    engines = []

    def fake_load(*args, **kwargs):
        engines.append(ScriptedJudge("fair"))
        return engines[-1]

    monkeypatch.setattr(inference, "load_engine", fake_load)
    monkeypatch.setattr("bias_judge.models.folder.check_model_folder", lambda d, **k: d)
    args = dict(model_dir=model, engine="transformers", dtype="float32", max_model_len=1000,
                engine_options={}, base_url=None, settings=GREEDY)
    real = judge_mod.judge_pairs
    calls = []

    def dies_on_third(engine, chunk, s, **kw):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(engine, chunk, s, **kw)

    monkeypatch.setattr(judge_mod, "judge_pairs", dies_on_third)
    out = tmp_path / "verdicts.jsonl"
    with pytest.raises(KeyboardInterrupt):
        judge_mod.judge_file(pairs, out, save_every=2, **args)
    partial = judge_mod.partial_path(out)
    assert len(partial.read_text().splitlines()) == 4 and not out.exists()
    monkeypatch.setattr(judge_mod, "judge_pairs", real)
    judged = []
    monkeypatch.setattr(judge_mod, "judge_pairs",
                        lambda e, chunk, s, **kw: judged.append(len(chunk)) or real(e, chunk, s))
    result = judge_mod.judge_file(pairs, out, save_every=2, **args)
    assert judged == [2] and "4 resumed" in result.summary
    write_result(result)
    clean = judge_mod.judge_file(pairs, tmp_path / "clean.jsonl", **args)
    assert result.outputs[0].content == clean.outputs[0].content
    # another setting: nothing is taken from the partial file
    judged.clear()
    other = JudgeSettings(**{**GREEDY.__dict__, "max_new_tokens": 33})
    judge_mod.judge_file(pairs, out, save_every=2, **{**args, "settings": other})
    assert judged == [2, 2, 2]
