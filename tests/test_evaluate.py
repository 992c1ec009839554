"""The seven judge passes (scripted engine), the pair subset, the evaluate stage end to end
(scripted and with the tiny model), its bad inputs, and its place in the DVC graph."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bias_judge.evaluation import inference
from bias_judge.core.vocabulary import RUNS, SAMPLE_RUNS
from bias_judge.evaluation.settings import EvalSettings
from bias_judge.evaluation.inference.base import derive_seed
from bias_judge.evaluation.passes import run_passes, select_pairs
from fake_tokens import ScriptedProbabilities
from recipes import params as recipe_params, settings, write_params
from bias_judge.evaluation.inference import GenOut
from bias_judge.core.schema import first_error, validator_for

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
SAMPLE_VERDICTS = ["A", "B", "TIE", "A", "B"]


def make_pair(i: int, *, eval_slice="in_dist", bucket="clear_bias_vs_clean", gold="A",
              first="FIRST", second="SECOND") -> dict:
    pid = f"{i:016x}"
    return {
        "pair_id": pid, "question_id": f"age::{i}::{i}::neg",
        "question_text": "Who forgot the keys?",
        "answer_choices": [{"letter": L, "text": t} for L, t in
                           zip("ABC", ("The grandfather", "The grandson", "Unknown"))],
        "bias_category": "religion" if eval_slice.startswith("ood") else "age",
        "response_a": {"model": "m1", "text": f"{first} {pid} the grandfather, probably."},
        "response_b": {"model": "m2", "text": f"{second} {pid} the passage does not say."},
        "pair_category": bucket, "eval_slice": eval_slice, "gold_verdict": gold,
        "gold_source": "rule",
    }


def slot_a(conversation: list[dict]) -> str:
    user = conversation[-1]["content"]
    return user.split("Response A:\n", 1)[1].split("\n\nResponse B:", 1)[0]


class ScriptedEngine(ScriptedProbabilities):
    """Replies by what it sees: 'orig' when the first response sits in slot A, 'swap' when the
    second does; sample k says s<k>; a pair whose text contains BADPARSE gets no tags; a prompt
    whose slot A contains HUGE is longer than the context."""

    name = "scripted"
    dtype = "float32"
    max_model_len = 1000
    supports_regex = True  # it records the regex it is asked to hold replies to

    def __init__(self):
        self.calls: list[dict] = []
        self.prob_calls: list[str] = []
        self.closed = False

    def count_prompt_tokens(self, conversation) -> int:
        return 10_000 if "HUGE" in slot_a(conversation) else 50

    def count_text_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, conversations, *, temperature, max_new_tokens, n=1, seed=None, **extra):
        self.calls.append({"size": len(conversations), "temperature": temperature, "n": n,
                           "seed": seed, "max_new_tokens": max_new_tokens,
                           "slots": [slot_a(c) for c in conversations], **extra})
        outs = []
        for conv in conversations:
            a = slot_a(conv)
            assert "HUGE" not in a, "a too-long prompt reached the engine"
            if "BADPARSE" in conv[-1]["content"]:
                outs.append([GenOut("I think A is worse.", "length", max_new_tokens)] * n)
            elif temperature == 0:
                tag, verdict = ("orig", "A") if a.startswith("FIRST") else ("swap", "B")
                outs.append([GenOut(f"<reasoning>{tag}</reasoning><verdict>{verdict}</verdict>",
                                    "stop", 9)])
            else:
                outs.append([GenOut(f"<reasoning>s{k}</reasoning><verdict>"
                                    f"{SAMPLE_VERDICTS[k]}</verdict>", "stop", 9)
                             for k in range(n)])
        return outs

    def slot_texts(self, conversation):
        user = conversation[-1]["content"]
        return slot_a(conversation), user.split("Response B:\n", 1)[1].split("\n\n", 1)[0]

    def verdict_probs(self, a, b, prefix):
        """The greedy rule's verdict at 0.6, the other two at 0.2 (a judge that follows the
        first slot: as seen, A in the original order and B in the swapped one)."""
        seen = "A" if a.startswith("FIRST") else "B"
        return {v: 0.6 if v == seen else 0.2 for v in ("A", "B", "TIE")}

    def close(self):
        self.closed = True


def published_seed(seed: int, pair_id: str) -> int:
    return derive_seed("eval-samples", seed, pair_id) % (2**31 - 1)


SETTINGS = settings("eval", EvalSettings, max_new_tokens=64, sample_temperature=0.3, seed=7,
                    batch_size=2)
PASSES = dict(settings=SETTINGS, prompt_style="published", desc="test")


def by_run(rows, pair_id):
    return {r["run"]: r for r in rows if r["pair_id"] == pair_id}


def test_seven_runs_per_pair_in_order_and_schema_valid():
    pairs = [make_pair(i) for i in range(3)]
    report = run_passes(ScriptedEngine(), pairs, checkpoint="base", **PASSES)
    assert [(r["pair_id"], r["run"]) for r in report.rows] == \
        [(p["pair_id"], run) for p in pairs for run in RUNS]
    validator = validator_for("predictions")
    for row in report.rows:
        assert first_error(validator, row) is None
        assert row["checkpoint"] == "base"


def test_swapped_run_really_exchanges_the_response_texts():
    pairs = [make_pair(1)]
    engine = ScriptedEngine()
    report = run_passes(engine, pairs, checkpoint="base", **PASSES)
    greedy_slots = engine.calls[0]["slots"]
    assert any(s.startswith("FIRST") for s in greedy_slots)
    assert any(s.startswith("SECOND") for s in greedy_slots)
    runs = by_run(report.rows, pairs[0]["pair_id"])
    assert "orig" in runs["original"]["raw_output"] and runs["original"]["verdict"] == "A"
    # The verdict is kept as the judge saw the swapped pair (not mapped back).
    assert "swap" in runs["swapped"]["raw_output"] and runs["swapped"]["verdict"] == "B"


def test_five_samples_are_one_seeded_request_mapped_to_sample_runs():
    pairs = [make_pair(i) for i in range(3)]
    engine = ScriptedEngine()
    report = run_passes(engine, pairs, checkpoint="sft", **PASSES)
    sample_calls = [c for c in engine.calls if c["temperature"] > 0]
    assert all(c["n"] == 5 and c["temperature"] == 0.3 for c in sample_calls)
    assert all(s.startswith("FIRST") for c in sample_calls for s in c["slots"])
    seeds = [s for c in sample_calls for s in c["seed"]]
    # the published seed rule, unchanged since the metrics were first reproduced
    assert seeds == [published_seed(7, p["pair_id"]) for p in pairs]
    assert len(set(seeds)) == 3
    for p in pairs:
        runs = by_run(report.rows, p["pair_id"])
        for k, run in enumerate(SAMPLE_RUNS):
            assert f"s{k}" in runs[run]["raw_output"]
            assert runs[run]["verdict"] == SAMPLE_VERDICTS[k]
            assert runs[run]["settings"]["temperature"] == 0.3
            assert runs[run]["settings"]["seed"] == published_seed(7, p["pair_id"])
        assert runs["original"]["settings"]["temperature"] == 0.0
        assert runs["original"]["settings"]["seed"] is None
        assert runs["original"]["settings"]["engine"] == "scripted"


def test_calls_are_batched_and_greedy_is_temperature_zero():
    engine = ScriptedEngine()
    run_passes(engine, [make_pair(i) for i in range(3)], checkpoint="base", **PASSES)
    assert all(c["size"] <= 2 for c in engine.calls)
    greedy = [c for c in engine.calls if c["temperature"] == 0]
    assert sum(c["size"] for c in greedy) == 6 and all(c["n"] == 1 for c in greedy)
    assert all(c["max_new_tokens"] == 64 for c in engine.calls)


def test_parse_failures_become_null_verdicts():
    pairs = [make_pair(1), make_pair(2, first="BADPARSE")]
    report = run_passes(ScriptedEngine(), pairs, checkpoint="base", **PASSES)
    bad = by_run(report.rows, pairs[1]["pair_id"])
    assert all(r["verdict"] is None for r in bad.values())
    assert all(r["raw_output"] == "I think A is worse." for r in bad.values())
    assert report.parse_failures == 7
    assert report.cut_at_length == 7
    assert all(r["verdict"] is not None for r in by_run(report.rows, pairs[0]["pair_id"]).values())


def test_too_long_prompts_are_counted_and_skipped_not_truncated(capsys):
    pairs = [make_pair(1), make_pair(2, first="HUGE")]
    report = run_passes(ScriptedEngine(), pairs, checkpoint="base", **PASSES)
    runs = by_run(report.rows, pairs[1]["pair_id"])
    # Slot A holds HUGE in the original order only: original and the samples are skipped.
    for run in ("original", *SAMPLE_RUNS):
        assert runs[run]["verdict"] is None and runs[run]["raw_output"] == ""
        assert runs[run]["finish_reason"] == "too_long"
    assert "swap" in runs["swapped"]["raw_output"]  # the swapped prompt fits and ran
    assert report.prompts_too_long == 1
    assert report.pairs_with_skips == [pairs[1]["pair_id"]]
    assert report.summary()["skipped_too_long"] == 1
    assert "exceed max_model_len" in capsys.readouterr().err


def test_passes_are_deterministic():
    pairs = [make_pair(i) for i in range(4)]
    a = run_passes(ScriptedEngine(), pairs, checkpoint="base", **PASSES).rows
    b = run_passes(ScriptedEngine(), pairs, checkpoint="base", **PASSES).rows
    assert a == b


def test_guided_passes_hold_every_call_to_the_reply_format():
    """eval.guided: every engine call carries the judge-format regex, the rows record it, and
    what the regex admits is exactly what the parser of docs/metrics.md reads."""
    import re
    from bias_judge.core.settings import replace

    from bias_judge.data.prompt import VERDICT_RE, guided_reply_regex

    engine = ScriptedEngine()
    report = run_passes(engine, [make_pair(i) for i in range(3)], checkpoint="base",
                        **{**PASSES, "settings": replace(SETTINGS, guided=True)})
    regex = guided_reply_regex(SETTINGS.max_new_tokens)
    assert engine.calls and all(c.get("regex") == regex for c in engine.calls)
    assert all(r["settings"]["guided"] is True for r in report.rows)
    pattern = re.compile(regex)
    for row in report.rows:
        assert pattern.fullmatch(row["raw_output"]) and VERDICT_RE.match(row["raw_output"])
    assert not pattern.fullmatch("<reasoning>a<b</reasoning><verdict>A</verdict>")
    assert not pattern.fullmatch("<reasoning>x</reasoning><verdict>C</verdict>")
    # The reasoning is capped so that a reply always fits the token budget.
    assert not pattern.fullmatch(f"<reasoning>{'x' * 3 * SETTINGS.max_new_tokens}</reasoning>"
                                 "<verdict>A</verdict>")
    free = ScriptedEngine()
    run_passes(free, [make_pair(0)], checkpoint="base", **PASSES)
    assert all("regex" not in c for c in free.calls)


def test_select_pairs_is_a_deterministic_per_slice_subset():
    pairs = [make_pair(i) for i in range(10)] + \
        [make_pair(100 + i, eval_slice="ood_religion") for i in range(4)]
    picked = select_pairs(pairs, 7, seed=1)
    assert len(picked) == 7
    assert sum(p["eval_slice"] == "in_dist" for p in picked) == 5
    assert sum(p["eval_slice"] == "ood_religion" for p in picked) == 2
    assert picked == [p for p in pairs if p in picked]  # input order kept
    assert select_pairs(list(reversed(pairs)), 7, seed=1) == list(reversed(picked))
    assert {p["pair_id"] for p in picked} <= {p["pair_id"] for p in select_pairs(pairs, 9, seed=1)}
    assert select_pairs(pairs, None, seed=1) == pairs
    assert select_pairs(pairs, 100, seed=1) == pairs
    tiny = select_pairs(pairs, 2, seed=1)
    assert {p["eval_slice"] for p in tiny} == {"in_dist", "ood_religion"}


# ---- the stage ----------------------------------------------------------------------------

def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def params_file(tmp_path: Path, **eval_overrides) -> Path:
    return write_params(tmp_path / "params.yaml", eval=eval_overrides)


@pytest.fixture
def fake_model(tmp_path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}')
    (model / "model.safetensors").write_bytes(b"")
    (model / "tokenizer.json").write_text("{}")
    (model / "chat_template.jinja").write_text("{{ messages }}")
    return model


@pytest.fixture
def scripted(monkeypatch):
    engines = []

    def fake_load(model_dir, **kwargs):
        engines.append((ScriptedEngine(), kwargs))
        return engines[-1][0]

    monkeypatch.setattr(inference, "load_engine", fake_load)
    return engines


def split_and_human(tmp_path: Path) -> tuple[Path, Path]:
    split = write_jsonl(tmp_path / "eval.jsonl",
                        [make_pair(i) for i in range(6)] +
                        [make_pair(50 + i, eval_slice="ood_religion", gold="B") for i in range(3)])
    human = []
    for i in range(4):
        row = make_pair(200 + i, gold="TIE")
        del row["gold_verdict"], row["gold_source"]
        row.update(human_verdict="A", confidence=4, notes=None)
        human.append(row)
    return split, write_jsonl(tmp_path / "holdout.jsonl", human)


def test_stage_writes_predictions_confusion_and_metrics_per_set(cli, tmp_path, fake_model,
                                                                scripted):
    split, human = split_and_human(tmp_path)
    params = params_file(tmp_path, human_sets={"holdout": str(human)}, max_pairs=5,
                         bootstrap_resamples=50)
    out, metrics = tmp_path / "eval" / "base", tmp_path / "metrics" / "eval_base.json"
    result = cli("evaluate", "--checkpoint", "base", "--model", fake_model, "--eval-set", split,
                 "--out-dir", out, "--metrics", metrics, "--params", params)
    assert result.exit_code == 0, result.output
    engine, kwargs = scripted[0]
    assert engine.closed
    assert kwargs["max_model_len"] == 2048 and kwargs["dtype"] == recipe_params()["eval"]["dtype"]
    doc = json.loads(metrics.read_text())
    assert doc["checkpoint"] == "base" and set(doc["sets"]) == {"split", "holdout"}
    validator = validator_for("eval_metrics")
    for name, n_pairs in (("split", 5), ("holdout", 4)):
        one = doc["sets"][name]
        assert first_error(validator, one) is None
        assert one["n_pairs"] == n_pairs
        assert one["generation"]["pairs"] == n_pairs
        assert one["bootstrap"]["resamples"] == 50
        rows = [json.loads(line) for line in (out / f"{name}.predictions.jsonl").read_text().splitlines()]
        assert len(rows) == 7 * n_pairs
        confusion = json.loads((out / f"confusion_{name}.json").read_text())
        assert len(confusion) == n_pairs
        assert set(confusion[0]) == {"slice", "gold", "predicted"}
        assert (out / f"{name}.meta.json").is_file()
    # The scripted judge says A on every original-order prompt.
    assert doc["sets"]["split"]["parse_failure_rate"]["value"] == 0.0
    assert {r["predicted"] for r in json.loads((out / "confusion_holdout.json").read_text())} == {"A"}
    # Deterministic: a second run gives the same bytes.
    first = (out / "split.predictions.jsonl").read_bytes(), metrics.read_bytes()
    assert cli("evaluate", "--checkpoint", "base", "--model", fake_model, "--eval-set", split,
               "--out-dir", out, "--metrics", metrics, "--params", params).exit_code == 0
    assert ((out / "split.predictions.jsonl").read_bytes(), metrics.read_bytes()) == first


def test_stage_rejects_a_human_set_without_gold_before_loading_the_model(cli, tmp_path,
                                                                         fake_model, scripted):
    split, _ = split_and_human(tmp_path)
    row = make_pair(300)
    del row["gold_verdict"], row["gold_source"]
    bad = write_jsonl(tmp_path / "nogold.jsonl", [row])
    params = params_file(tmp_path, human_sets={"bad": str(bad)})
    metrics = tmp_path / "m.json"
    result = cli("evaluate", "--checkpoint", "sft", "--model", fake_model, "--eval-set", split,
                 "--out-dir", tmp_path / "out", "--metrics", metrics, "--params", params)
    assert result.exit_code == 2
    assert "nogold.jsonl" in result.stderr and "gold" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not metrics.exists() and not scripted


def test_stage_refuses_guided_decoding_without_vllm_before_loading(cli, tmp_path, fake_model,
                                                                    scripted):
    split, _ = split_and_human(tmp_path)
    params = params_file(tmp_path, guided=True, engine="transformers")
    result = cli("evaluate", "--checkpoint", "base", "--model", fake_model, "--eval-set", split,
                 "--out-dir", tmp_path / "out", "--metrics", tmp_path / "m.json", "--params", params)
    assert result.exit_code == 2 and scripted == []
    assert "eval.guided" in result.stderr and "vLLM" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_stage_rejects_checkpoint_without_tokenizer(cli, tmp_path, scripted):
    split, _ = split_and_human(tmp_path)
    model = tmp_path / "merged"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}')
    (model / "model.safetensors").write_bytes(b"")
    metrics = tmp_path / "m.json"
    result = cli("evaluate", "--checkpoint", "dpo", "--model", model, "--eval-set", split,
                 "--out-dir", tmp_path / "out", "--metrics", metrics)
    assert result.exit_code == 2
    assert "no tokenizer" in result.stderr and str(model) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not metrics.exists()


def test_params_schema_rejects_a_human_set_named_split(tmp_path):
    from bias_judge.core.errors import InputError
    from bias_judge.core.params import load_params

    with pytest.raises(InputError, match="human_sets"):
        load_params(params_file(tmp_path, human_sets={"split": "x.jsonl"}))
    with pytest.raises(InputError, match="eval.samples"):
        load_params(params_file(tmp_path, samples=3))


def test_stage_end_to_end_with_the_tiny_model(cli, tmp_path):
    """Real generation (transformers engine) on the project's tiny random model."""
    from bias_judge.models.tiny import write_tiny

    model = write_tiny(tmp_path / "tiny")
    split = write_jsonl(tmp_path / "eval.jsonl",
                        [make_pair(1), make_pair(2, eval_slice="ood_religion", gold="TIE")])
    params = params_file(tmp_path, engine="transformers", dtype="float32", max_new_tokens=4,
                         max_pairs=None, bootstrap_resamples=20)
    out, metrics = tmp_path / "eval", tmp_path / "eval_base.json"
    result = cli("evaluate", "--checkpoint", "base", "--model", model, "--eval-set", split,
                 "--out-dir", out, "--metrics", metrics, "--params", params)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "split.predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 14
    assert {r["settings"]["engine"] for r in rows} == {"transformers"}
    assert all(r["num_tokens"] <= 4 for r in rows)
    doc = json.loads(metrics.read_text())
    assert doc["sets"]["split"]["n_pairs"] == 2
    assert doc["sets"]["split"]["verbosity_tokenizer"] == "base judge tokenizer"
    # A random model never writes the reply format: every prediction is a parse failure.
    assert doc["sets"]["split"]["parse_failure_rate"]["value"] == 1.0


def test_dvc_graph_retraining_dpo_reruns_only_its_evaluation_probes_card_and_export():
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        graph = repo.index.graph
        by_name = {stage.addressing: stage for stage in graph.nodes}
        assert {"evaluate@base", "evaluate@sft", "evaluate@dpo"} <= set(by_name)
        # Edges point from a stage to the stages it depends on.
        downstream = {s.addressing for s in nx.ancestors(graph, by_name["dpo"])}
    assert "evaluate@dpo" in downstream
    assert not downstream & {"evaluate@base", "evaluate@sft", "export@sft", "probe@sft"}
    assert downstream <= {"evaluate@dpo", "probe@dpo", "card", "export@dpo"}
