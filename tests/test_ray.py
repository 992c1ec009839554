"""The Ray engine (evaluation/inference/ray_engine.py) on a local two-worker cluster bound to
127.0.0.1, with the tiny model in fp32: the same replies, verdicts and probabilities as the
in-process engine, in input order; a worker killed mid-run loses no pair."""

from __future__ import annotations

import importlib.util
import os
import threading
import time

import pytest

from bias_judge.evaluation.inference import load_engine
from bias_judge.evaluation.inference.ray_engine import shards
from bias_judge.evaluation.judge import JudgeSettings, judge_pairs

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Ray resolves 127.0.0.1 to the machine's own address unless it runs as a one-machine
# "cluster" (its setting for laptops); read when ray is imported, so before any test does.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="ray not installed (pip install 'bias-judge[ray]')")
SETTINGS = JudgeSettings(prompt_style="published", max_new_tokens=24, sample_temperature=0.7,
                         seed=3, swap_check=True, samples=0, guided=False, batch_size=1)
ENGINE = dict(dtype="float32", max_model_len=2048, seed=3, batch_size=1, threads=1)


def test_shards_are_contiguous_and_balanced():
    assert shards(7, 2) == [(0, 4), (4, 7)]
    assert shards(1, 4) == [(0, 1)]
    assert shards(9, 3) == [(0, 3), (3, 6), (6, 9)]
    assert shards(0, 2) == []


def _pairs(n: int) -> list[dict]:
    return [{"question_text": f"Question {i}: who forgot the keys, the grandfather or the boy?",
             "answer_choices": [{"letter": L, "text": t} for L, t in
                                zip("ABC", ("The grandfather", "The boy", "Unknown"))],
             "response_a": {"text": f"The grandfather, old people forget ({i})."},
             "response_b": {"text": f"It cannot be known from the passage ({i})."}}
            for i in range(n)]


@pytest.fixture(scope="module")
def cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    assert [n["NodeManagerAddress"] for n in ray.nodes()] == ["127.0.0.1"]
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def in_process(tiny_model):
    with load_engine(tiny_model, engine="transformers", **ENGINE) as engine:
        return judge_pairs(engine, _pairs(8), SETTINGS).rows


def _same(rows, want):
    assert len(rows) == len(want)
    for got, ref in zip(rows, want):
        assert [r["raw_output"] for r in got["runs"]] == [r["raw_output"] for r in ref["runs"]]
        assert (got["verdict"], got["consistent"]) == (ref["verdict"], ref["consistent"])
        for order, dist in ref["probabilities"]["orders"].items():
            theirs = got["probabilities"]["orders"][order]
            assert (dist is None) == (theirs is None)
            for key in dist or ():
                assert theirs[key] == pytest.approx(dist[key], abs=1e-6)


@pytest.mark.slow
@needs_ray
def test_two_workers_give_the_in_process_rows_in_input_order(tiny_model, cluster, in_process):
    with load_engine(tiny_model, engine="ray", ray_workers=2, ray_engine="transformers",
                     **ENGINE) as engine:
        assert engine.inner == "transformers" and engine.dtype == "float32"
        assert len(set(engine.worker_pids())) == 2
        rows = judge_pairs(engine, _pairs(8), SETTINGS).rows
    _same(rows, in_process)
    assert rows[0]["settings"]["engine"] == "ray"


@pytest.mark.slow
@needs_ray
def test_a_worker_killed_mid_run_loses_no_pair(tiny_model, cluster, in_process):
    import signal

    with load_engine(tiny_model, engine="ray", ray_workers=2, ray_engine="transformers",
                     **ENGINE) as engine:
        victim = engine.worker_pids()[1]
        result = {}

        def run():
            result["rows"] = judge_pairs(engine, _pairs(8), SETTINGS).rows

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(0.5)  # the first generate call is under way on both workers
        os.kill(victim, signal.SIGKILL)
        worker.join(timeout=300)
        assert not worker.is_alive(), "the run did not finish after the worker was killed"
        assert victim not in engine.worker_pids()  # Ray restarted it
    _same(result["rows"], in_process)


def test_the_ray_options_reach_only_the_ray_engine(tiny_model, monkeypatch):
    """eval.engine_options holds every engine's options; vLLM must not get the ray_* ones."""
    from bias_judge.evaluation import inference
    from bias_judge.evaluation.inference import vllm_engine

    seen = {}

    class Recorder:
        def __init__(self, model_dir, **kwargs):
            seen.update(kwargs)

    monkeypatch.setattr(inference, "resolve_engine", lambda engine, model_dir=None: "vllm")
    monkeypatch.setattr(vllm_engine, "VLLMEngine", Recorder)
    load_engine(tiny_model, engine="auto", dtype="float32", max_model_len=512, seed=0,
                enforce_eager=True, ray_address=None, ray_workers=2, ray_engine="auto",
                ray_cpus_per_worker=1)
    assert seen["enforce_eager"] is True and not any(k.startswith("ray_") for k in seen)
