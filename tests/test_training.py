"""sft / dpo stages on the tiny model: completion-only labels, outputs, resume, bad input."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from transformers import TrainerCallback

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import write_jsonl
from bias_judge.models import rows as rowlib
from bias_judge.models.dpo import train_dpo
from bias_judge.models.materialize import materialize
from bias_judge.models.settings import DPOSettings, ModelSettings, SFTSettings
from bias_judge.models.sft import prepare, train_sft
from bias_judge.models.training import Base, Outputs
from recipes import settings
from bias_judge.core.params import load_params
from bias_judge.data.prompt import build_messages, format_target, swap_reasoning, swap_verdict
from bias_judge.stages.cli import main as cli

REPO = Path(__file__).resolve().parents[1]
PEOPLE = ["the nurse", "the grandfather", "the teenager", "the pastor", "the engineer", "the refugee"]


def _pair(i: int, rng: random.Random) -> dict:
    a, b = rng.sample(PEOPLE, 2)
    return {
        "pair_id": f"{i:016x}",
        "question_text": f"{a.capitalize()} and {b} waited at the clinic (case {i}). Who was confused?",
        "answer_choices": [{"letter": "A", "text": a}, {"letter": "B", "text": b},
                           {"letter": "C", "text": "Cannot be determined"}],
        "response_a": {"model": "m1", "text": f"Probably {a}; people like that tend to be. A."},
        "response_b": {"model": "m2", "text": "The passage does not say. C."},
        "pair_category": "subtle_bias_vs_clean",
    }


def sft_rows(n_pairs: int, seed: int = 0) -> list[dict]:
    rng, out = random.Random(seed), []
    for i in range(n_pairs):
        pair = _pair(i, rng)
        verdict = rng.choice(["A", "B", "TIE"])
        reasoning = f"Response A assumes a stereotype about {pair['answer_choices'][0]['text']}; Response B does not."
        for order, swapped in (("original", False), ("swapped", True)):
            v = swap_verdict(verdict) if swapped else verdict
            r = swap_reasoning(reasoning) if swapped else reasoning
            out.append({"prompt": build_messages(pair, swapped, style="published"),
                        "completion": [{"role": "assistant", "content": format_target(r, v)}],
                        "pair_id": pair["pair_id"], "order": order, "verdict": v,
                        "pair_category": pair["pair_category"]})
    return out


def dpo_rows(n_pairs: int, seed: int = 1) -> list[dict]:
    out = []
    for row in sft_rows(n_pairs, seed):
        if row["verdict"] == "TIE":
            continue
        text = row["completion"][0]["content"]
        wrong = text.replace(f"<verdict>{row['verdict']}</verdict>",
                             f"<verdict>{swap_verdict(row['verdict'])}</verdict>")
        out.append({"prompt": row["prompt"], "chosen": row["completion"],
                    "rejected": [{"role": "assistant", "content": wrong}],
                    "pair_id": row["pair_id"], "order": row["order"],
                    "rejected_kind": "verdict_flip", "pair_category": row["pair_category"]})
    return out


FAST = dict(num_train_epochs=1, per_device_train_batch_size=2, effective_batch=4, precision="fp32",
            gradient_checkpointing=False, optim="adamw_torch", save_steps=2,
            save_total_limit=2, max_length=2048, learning_rate=1e-3)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("train")
    materialize("tiny", d / "base")
    write_jsonl(d / "sft.jsonl", sft_rows(6), schema="sft_row")
    write_jsonl(d / "dpo.jsonl", dpo_rows(8), schema="dpo_row")
    return d


def base(work: Path, quantization: str = "none") -> Base:
    model = settings("model", ModelSettings, source="tiny", quantization=quantization,
                     dtype="float32", threads=1, allocator="system")
    return Base(str(work / "base"), model)


def sft_settings(**overrides) -> SFTSettings:
    """The committed sft recipe, made fast for the tiny model."""
    return settings("sft", SFTSettings, **{**FAST, **overrides})


def dpo_settings(**overrides) -> DPOSettings:
    return settings("dpo", DPOSettings, **{**FAST, **overrides})


def outputs(root: Path, name: str = "sft", callbacks=()) -> Outputs:
    return Outputs(out_dir=root / "models" / name, metrics_path=root / "metrics" / f"train_{name}.json",
                   live_dir=root / "dvclive" / name, extra_callbacks=list(callbacks))


@pytest.fixture(scope="module")
def sft_done(work) -> tuple[Path, dict]:
    root = work / "sft_run"
    summary = train_sft(base(work), sft_settings(), str(work / "sft.jsonl"), outputs(root))
    return root, summary


def test_adapter_config_lists_target_modules_in_a_fixed_order(sft_done):
    """PEFT resolves `all-linear` to a set; saved as it is, the order follows the process's
    string-hash seed, so an identical run wrote different adapter_config.json bytes (and DPO's
    fingerprint of the SFT adapter changed, forcing a retrain)."""
    root, _ = sft_done
    config = json.loads((root / "models/sft/adapter/adapter_config.json").read_text())
    modules = config["target_modules"]
    assert isinstance(modules, list) and len(modules) >= 3 and modules == sorted(modules)


def test_collated_batch_labels_only_the_completion(work, tmp_path):
    from transformers import AutoTokenizer

    rows = sft_rows(6)
    prep = prepare(base(work), sft_settings(), str(work / "sft.jsonl"), outputs(tmp_path))
    tok = AutoTokenizer.from_pretrained(work / "base")
    batch = next(iter(prep.trainer.get_train_dataloader()))
    assert batch["labels"].shape == batch["input_ids"].shape
    replies = {r["completion"][0]["content"] for r in rows}
    prompts = {json.dumps(r["prompt"]) for r in rows}
    for ids, labels, mask in zip(batch["input_ids"], batch["labels"], batch["attention_mask"]):
        ids, labels, mask = ids.tolist(), labels.tolist(), mask.tolist()
        labelled = [i for i, lab in enumerate(labels) if lab != -100]
        # One contiguous labelled span, labels equal to the inputs there, ending at the last real token.
        assert labelled == list(range(labelled[0], labelled[-1] + 1))
        assert all(labels[i] == ids[i] for i in labelled)
        assert labelled[-1] == max(i for i, m in enumerate(mask) if m)
        target = tok.decode([ids[i] for i in labelled])
        assert target.endswith("<end_of_turn>\n")
        assert target[: -len("<end_of_turn>\n")] in replies
        # Everything before the span is exactly the prompt with the generation prompt.
        prompt_text = tok.decode(ids[: labelled[0]])
        assert prompt_text.endswith("<start_of_turn>assistant\n")
        assert any(tok.apply_chat_template(json.loads(p), add_generation_prompt=True, tokenize=False)
                   == prompt_text for p in prompts)


def test_sft_writes_adapter_merged_summary_and_curves(sft_done):
    from transformers import AutoModelForCausalLM

    from bias_judge.core.schema import first_error, validator_for

    root, summary = sft_done
    assert first_error(validator_for("train_summary"), summary) is None
    assert summary["rows"] == 12 and summary["steps"] == 3 and summary["resumed_from_step"] is None
    assert summary["tokens_per_s"] > 0 and math.isfinite(summary["final_loss"])
    assert json.loads((root / "metrics/train_sft.json").read_text()) == summary
    adapter = root / "models/sft/adapter"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    merged = root / "models/sft/merged"
    assert (merged / "chat_template.jsonl").exists() is False and (merged / "chat_template.jinja").is_file()
    AutoModelForCausalLM.from_pretrained(merged)  # a plain folder: no peft, no quantizer
    assert "quantization_config" not in json.loads((merged / "config.json").read_text())
    for curve in ("loss", "learning_rate", "grad_norm"):
        lines = (root / f"dvclive/sft/plots/metrics/{curve}.tsv").read_text().splitlines()
        assert lines[0] == f"step\t{curve}" and [int(ln.split()[0]) for ln in lines[1:]] == [1, 2, 3]
    assert not list((root / "models/sft").glob(".*.tmp"))


def test_merged_equals_base_plus_adapter(work, sft_done):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    root, _ = sft_done
    ids = torch.tensor([[2, 10, 20, 30, 40]])
    merged = AutoModelForCausalLM.from_pretrained(root / "models/sft/merged")
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(work / "base"),
                                             root / "models/sft/adapter")
    plain = AutoModelForCausalLM.from_pretrained(work / "base")
    with torch.no_grad():
        a, b, c = merged(ids).logits, with_adapter(ids).logits, plain(ids).logits
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-4)  # training changed something


def test_cpu_lm_head_matches_trl_fused_head(work):
    """The reply-only LM head installed on CPU gives TRL's fused head's outputs and gradients."""
    import copy

    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from bias_judge.models import lm_head
    from bias_judge.models.lora import lora_config

    torch.manual_seed(0)
    trl_model = AutoModelForCausalLM.from_pretrained(work / "base")
    add_fused_lm_head(trl_model, outputs=("log_probs", "entropy", "is_top1", "mean_logits"))
    ours = copy.deepcopy(trl_model)
    assert lm_head.install(ours)
    ids = torch.randint(10, 800, (2, 40))
    labels = ids.clone()
    labels[0, :25] = -100
    labels[1, :31] = -100
    results = []
    for model in (trl_model, ours):
        torch.manual_seed(1)  # the same LoRA initialisation for both
        peft = get_peft_model(model, lora_config(4, 8, 0.0, "all-linear"))
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(param, std=0.02, generator=torch.Generator().manual_seed(1))
        out = peft(input_ids=ids, labels=labels, fused_lm_head=True)
        out.loss.backward()
        grad = next(p.grad for n, p in peft.named_parameters() if "lora_A" in n)
        results.append((out, grad))
    (a, ga), (b, gb) = results
    assert torch.equal(a.label_mask, b.label_mask)
    for field in ("log_probs", "entropy", "mean_logits"):
        assert torch.allclose(getattr(a, field), getattr(b, field), atol=1e-4), field
    assert torch.equal(a.is_top1, b.is_top1)
    assert torch.allclose(a.loss, b.loss, atol=1e-5) and torch.allclose(ga, gb, atol=1e-5)
    # Unpatched calls still give ordinary logits.
    assert ours(input_ids=ids).logits.shape == (2, 40, ours.config.vocab_size)


class StopAfterSave(TrainerCallback):
    """Stands in for a kill: the run dies right after checkpoint `step` is on disk."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            raise KeyboardInterrupt(f"killed after step {state.global_step}")


def test_interrupted_sft_resumes_from_last_checkpoint(work, tmp_path):
    sft = sft_settings(effective_batch=2, per_device_train_batch_size=1)  # 6 steps
    with pytest.raises(KeyboardInterrupt):
        train_sft(base(work), sft, str(work / "sft.jsonl"), outputs(tmp_path, callbacks=[StopAfterSave(4)]))
    ckpts = tmp_path / "models/sft/checkpoints"
    assert (ckpts / "checkpoint-4" / "COMPLETE").is_file()
    assert not (tmp_path / "models/sft/adapter").exists() and not (tmp_path / "metrics").exists()

    summary = train_sft(base(work), sft, str(work / "sft.jsonl"), outputs(tmp_path))
    assert summary["resumed_from_step"] == 4 and summary["steps"] == 6
    steps = [int(ln.split()[0]) for ln in
             (tmp_path / "dvclive/sft/plots/metrics/loss.tsv").read_text().splitlines()[1:]]
    assert steps == list(range(1, 7))  # the curve is whole: replayed 1-4, then 5-6

    # Resumed at the last step (killed while writing outputs): nothing to train, and the
    # summary still reports the whole run's time and throughput.
    from bias_judge.models.callbacks import prior_seconds

    trained = prior_seconds(ckpts / "checkpoint-6")  # the whole training, as checkpointed
    assert trained > 0
    done = train_sft(base(work), sft, str(work / "sft.jsonl"), outputs(tmp_path))
    assert done["resumed_from_step"] == 6 and done["steps"] == 6
    assert done["wall_time_s"] >= trained and done["tokens_per_s"] > 0

    # An incomplete checkpoint (no marker) is never resumed from; other params start over.
    (ckpts / "checkpoint-6" / "COMPLETE").unlink()
    again = train_sft(base(work), sft, str(work / "sft.jsonl"), outputs(tmp_path))
    assert again["resumed_from_step"] == 4
    other = sft_settings(effective_batch=2, per_device_train_batch_size=1, learning_rate=5e-4)
    fresh = train_sft(base(work), other, str(work / "sft.jsonl"), outputs(tmp_path))
    assert fresh["resumed_from_step"] is None and fresh["steps"] == 6


def test_dpo_reference_choice(work, sft_done, tmp_path):
    """reference=sft scores against a frozen copy of the starting adapter, so before the first
    update the policy equals the reference and the sigmoid loss is exactly ln 2; reference=base
    scores against the base, which the SFT adapter already moved away from."""
    root, _ = sft_done
    adapter = str(root / "models/sft/adapter")
    first = {}
    for ref in ("sft", "base"):
        out = outputs(tmp_path / ref, "dpo")
        summary = train_dpo(base(work), dpo_settings(learning_rate=1e-4, max_rows=4, reference=ref), adapter,
                            str(work / "dpo.jsonl"), out)
        assert summary["reference"] == ref and summary["rows"] == 4 and summary["lora_r"] == 16
        assert (out.adapter / "adapter_model.safetensors").is_file() and (out.merged / "config.json").is_file()
        assert not (out.adapter / "ref").exists()
        losses = (tmp_path / ref / "dvclive/dpo/plots/metrics/loss.tsv").read_text().splitlines()
        first[ref] = float(losses[1].split()[1])
        assert (tmp_path / ref / "dvclive/dpo/plots/metrics/rewards/accuracies.tsv").is_file()
    assert first["sft"] == pytest.approx(math.log(2), abs=1e-4)
    assert abs(first["base"] - math.log(2)) > 1e-3


def test_nf4_qlora_merges_into_unquantised_base(work, tmp_path):
    pytest.importorskip("bitsandbytes")
    summary = train_sft(base(work, quantization="nf4"), sft_settings(max_steps=1),
                        str(work / "sft.jsonl"), outputs(tmp_path))
    assert summary["quantization"] == "nf4" and summary["steps"] == 1
    cfg = json.loads((tmp_path / "models/sft/merged/config.json").read_text())
    assert "quantization_config" not in cfg and cfg["dtype"] == "float32"


def test_select_rows_keeps_whole_pairs_deterministically():
    rows = sft_rows(10)
    a = rowlib.select_rows(rows, 6, seed=3)
    assert a == rowlib.select_rows(rows, 6, seed=3) and len(a) == 6
    assert all(sum(r["pair_id"] == p["pair_id"] for r in a) == 2 for p in a)
    assert [rows.index(r) for r in a] == sorted(rows.index(r) for r in a)
    assert rowlib.select_rows(rows, 6, seed=4) != a
    assert rowlib.select_rows(rows, None, seed=3) == rows


def test_overlong_rows_drop_truncate_or_error(work):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(work / "base")
    rows = sft_rows(3)
    rows[0]["prompt"][1]["content"] += " padding" * 3000
    n = dict(max_length=1500, source="rows.jsonl")
    dropped = rowlib.check_rows(tok, rows, ("completion",), overlong="drop", **n)
    assert dropped.overlong == 1 and len(dropped.kept) == 5
    kept = rowlib.check_rows(tok, rows, ("completion",), overlong="truncate", **n)
    assert kept.overlong == 1 and len(kept.kept) == 6
    with pytest.raises(InputError, match="more than max_length 1500") as exc:
        rowlib.check_rows(tok, rows, ("completion",), overlong="error", **n)
    assert exc.value.line == 1
    with pytest.raises(InputError, match="no rows left"):
        rowlib.check_rows(tok, rows, ("completion",), overlong="drop", max_length=10, source="r")


@pytest.mark.parametrize("template, needle", [
    # Renders the assistant turn with a different opening than the generation prompt.
    ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
     "{% if add_generation_prompt %}<reply>{% endif %}", "not a prefix"),
    # Drops the assistant's text altogether.
    ("{% for m in messages %}{% if m['role'] != 'assistant' %}{{ m['content'] }}{% endif %}{% endfor %}",
     "does not appear"),
])
def test_template_that_cannot_mark_the_completion_is_refused(work, template, needle):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(work / "base")
    tok.chat_template = template
    with pytest.raises(InputError, match=needle) as exc:
        rowlib.check_rows(tok, sft_rows(1), ("completion",), max_length=4096, overlong="drop", source="r.jsonl")
    assert exc.value.field == "model.chat_template" and exc.value.line == 1


def _params(tmp_path: Path, **sections) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["model"].update(source="tiny", dtype="float32", allocator="system", threads=1)
    params["sft"].update(precision="fp32", max_rows=8, per_device_train_batch_size=2, effective_batch=4,
                         save_steps=2)
    params["dpo"].update(precision="fp32", max_rows=4, per_device_train_batch_size=2, effective_batch=4,
                         save_steps=2)
    for section, values in sections.items():
        params[section].update(values)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _sft_cli(work: Path, tmp_path: Path, params: Path, rows: Path | None = None):
    args = ["sft", "--model", str(work / "base"), "--rows", str(rows or work / "sft.jsonl"),
            "--out-dir", str(tmp_path / "models/sft"), "--metrics", str(tmp_path / "metrics/train_sft.json"),
            "--live-dir", str(tmp_path / "dvclive/sft"), "--params", str(params)]
    return CliRunner().invoke(cli, args)


def test_sft_and_dpo_stage_commands(work, tmp_path):
    from bias_judge.models.judge_record import read_record

    # Values unlike the committed ones, so the record is seen to come from this params file.
    params = _params(tmp_path, prompt={"style": "published"}, eval={"max_new_tokens": 77},
                     label={"reasoning": "prose"})
    res = _sft_cli(work, tmp_path, params)
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "metrics/train_sft.json").read_text())
    assert summary["rows"] == 8 and summary["base_model"] == "tiny"
    assert read_record(tmp_path / "models/sft/merged") == {
        "version": 1, "checkpoint": "sft", "prompt_style": "published", "reasoning": "prose",
        "max_new_tokens": 77, "chat_template": {"source": "base", "file": None}}
    res = CliRunner().invoke(cli, [
        "dpo", "--model", str(work / "base"), "--sft-adapter", str(tmp_path / "models/sft/adapter"),
        "--rows", str(work / "dpo.jsonl"), "--out-dir", str(tmp_path / "models/dpo"),
        "--metrics", str(tmp_path / "metrics/train_dpo.json"), "--live-dir", str(tmp_path / "dvclive/dpo"),
        "--params", str(params)])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "metrics/train_dpo.json").read_text())["beta"] == 0.1
    assert read_record(tmp_path / "models/dpo/merged")["checkpoint"] == "dpo"


@pytest.mark.parametrize("section, values, needle", [
    ("sft", {"learning_rate": -1e-4}, "sft.learning_rate"),
    ("sft", {"lora": {"r": 0, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"}}, "sft.lora.r"),
    ("sft", {"effective_batch": 5}, "sft.effective_batch"),
    ("sft", {"overlong": "error", "max_length": 64}, "sft.max_length"),
    ("model", {"quantization": "int3"}, "model.quantization"),
])
def test_bad_params_stop_before_training_with_one_line(work, tmp_path, section, values, needle):
    res = _sft_cli(work, tmp_path, _params(tmp_path, **{section: values}))
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]
    assert not (tmp_path / "models").exists() and not (tmp_path / "metrics").exists()


def test_bad_rows_or_model_stop_with_one_line(work, tmp_path):
    params = _params(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "not a list"}\n')
    res = _sft_cli(work, tmp_path, params, rows=bad)
    assert res.exit_code == 2 and "bad.jsonl:1" in res.output
    res = _sft_cli(work, tmp_path, params, rows=tmp_path / "missing.jsonl")
    assert res.exit_code == 2 and "missing.jsonl" in res.output
    args = ["sft", "--model", str(tmp_path / "no-model"), "--rows", str(work / "sft.jsonl"),
            "--out-dir", str(tmp_path / "models/sft"), "--params", str(params)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2 and "model folder not found" in res.output
    assert not (tmp_path / "models").exists()


def test_params_schema_ranges():
    params = load_params(REPO / "params.yaml")
    from bias_judge.core.params import validate_params

    for section, key, value in [("sft", "learning_rate", 0), ("dpo", "beta", 0),
                                ("sft", "warmup_steps", 1.5), ("dpo", "reference", "other"),
                                ("model", "allocator", "tcmalloc"), ("sft", "max_rows", 0)]:
        broken = json.loads(json.dumps(params))
        broken[section][key] = value
        with pytest.raises(InputError, match=f"{section}.{key}"):
            validate_params(broken)


@pytest.mark.slow
def test_killed_stage_process_resumes(work, tmp_path):
    """The real thing: SIGKILL a running `bias-judge sft` once a checkpoint is complete, rerun."""
    params = _params(tmp_path, sft={"max_steps": 30, "max_rows": None, "per_device_train_batch_size": 1,
                                    "effective_batch": 1, "save_steps": 3})
    cmd = [sys.executable, "-m", "bias_judge.stages.cli", "sft", "--model", str(work / "base"),
           "--rows", str(work / "sft.jsonl"), "--out-dir", str(tmp_path / "models/sft"),
           "--metrics", str(tmp_path / "m.json"), "--live-dir", str(tmp_path / "live"),
           "--params", str(params)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    log = tmp_path / "first-run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    marker = tmp_path / "models/sft/checkpoints/checkpoint-3/COMPLETE"
    deadline = time.time() + 600  # a loaded 2-core machine takes minutes to reach step 3
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    ended_alone = proc.poll()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert marker.exists(), (ended_alone, log.read_text()[-3000:])
    assert not (tmp_path / "m.json").exists()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    summary = json.loads((tmp_path / "m.json").read_text())
    assert summary["steps"] == 30 and summary["resumed_from_step"] >= 3


def test_verdict_weight_scales_the_decision_token_loss_only(work, tmp_path):
    """With sft.verdict_weight W the loss of each reply's decision token (the first token after
    <verdict>) counts W times and every other reply token once: the trainer's loss on a batch
    equals that weighted sum computed by hand from the unweighted per-token log-probs."""
    import torch
    from transformers import AutoTokenizer

    from bias_judge.models import verdict_weight as vw

    tok = AutoTokenizer.from_pretrained(work / "base")
    marker = vw.decision_marker(tok)
    weighted = prepare(base(work), sft_settings(verdict_weight=5.0), str(work / "sft.jsonl"),
                       outputs(tmp_path / "w"))
    batch = next(iter(weighted.trainer.get_train_dataloader()))
    w = batch["loss_weights"]
    for ids, labels, weights in zip(batch["input_ids"], batch["labels"], w):
        decision = [i for i, x in enumerate(weights.tolist()) if x != 1.0]
        assert len(decision) == 1 and labels[decision[0]] != -100
        text = tok.decode(ids[decision[0]:].tolist())
        assert text[:1] in ("A", "B", "T") and tok.decode(ids[decision[0] - len(marker):decision[0]].tolist()).endswith("verdict>")
    model = weighted.trainer.model
    model.eval()
    inputs = {k: v for k, v in batch.items() if k != "loss_weights"}
    with torch.no_grad():
        plain = model(**inputs, fused_lm_head=True)
        scaled = model(**inputs, loss_weights=w, fused_lm_head=True)
    mask = plain.label_mask
    assert torch.allclose(scaled.log_probs, plain.log_probs * w[:, 1:])
    by_hand = -(plain.log_probs * w[:, 1:]).sum() / mask.sum()
    assert torch.allclose(-scaled.log_probs.sum() / mask.sum(), by_hand)
    assert not torch.allclose(by_hand, -plain.log_probs.sum() / mask.sum())
    # weight 1 leaves the trainer untouched
    plain_prep = prepare(base(work), sft_settings(verdict_weight=1.0), str(work / "sft.jsonl"), outputs(tmp_path / "p"))
    assert "loss_weights" not in next(iter(plain_prep.trainer.get_train_dataloader()))


def test_decision_positions_skip_the_closing_tag():
    marker = (7, 8, 9)
    ids = [1, 2, 7, 8, 9, 42, 5, 7, 8, 9, 3]
    labelled = [False, True, True, True, True, True, True, True, True, True, True]
    assert __import__("bias_judge.models.verdict_weight", fromlist=["x"]).decision_positions(
        ids, labelled, marker) == [5]


def test_more_than_one_thread_waits_passively(monkeypatch):
    """Training with several torch threads sets OpenMP's passive wait policy (spinning workers
    collapse beside another busy process); one thread leaves the policy alone, and a policy the
    user set is kept."""
    from bias_judge.models.runtime import wanted_env

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert wanted_env(2, "system") == {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}
    assert wanted_env(1, "system") == {"OMP_NUM_THREADS": "1"}
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert "OMP_WAIT_POLICY" not in wanted_env(2, "system")


def test_resume_never_continues_a_run_of_other_code(work, tmp_path):
    """A checkpoint folder is resumed only by the code that wrote it. A finished run, then the
    same stage with a training module changed (the scheduler type, in a copy of the library
    put first on the import path) must train from scratch, and the original code after it
    must too, giving the original weights back: before, both resumed the finished checkpoint,
    trained nothing, and recorded the other code's adapter as current."""
    import hashlib
    import shutil

    def adapter_sha() -> str:
        return hashlib.sha256((tmp_path / "models/sft/adapter/adapter_model.safetensors")
                              .read_bytes()).hexdigest()

    def summary() -> dict:
        return json.loads((tmp_path / "metrics/train_sft.json").read_text())

    params = _params(tmp_path)
    assert _sft_cli(work, tmp_path, params).exit_code == 0
    first = adapter_sha()
    assert summary()["resumed_from_step"] is None and summary()["steps"] == 2

    lib = tmp_path / "lib"
    shutil.copytree(REPO / "src" / "bias_judge", lib / "bias_judge",
                    ignore=shutil.ignore_patterns("__pycache__"))
    training = lib / "bias_judge/models/training.py"
    code = training.read_text()
    assert "data_seed=s.seed," in code
    training.write_text(code.replace("data_seed=s.seed,", "data_seed=s.seed + 1,"))
    cmd = [sys.executable, "-m", "bias_judge.stages.cli", "sft", "--model", str(work / "base"),
           "--rows", str(work / "sft.jsonl"), "--out-dir", str(tmp_path / "models/sft"),
           "--metrics", str(tmp_path / "metrics/train_sft.json"),
           "--live-dir", str(tmp_path / "dvclive/sft"), "--params", str(params)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(lib))
    probe = subprocess.run([sys.executable, "-c", "import bias_judge.models.training as t; "
                            "print(t.__file__)"], env=env, capture_output=True, text=True)
    assert probe.stdout.strip() == str(training)  # the changed copy is what runs
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    assert summary()["resumed_from_step"] is None and summary()["steps"] == 2
    assert adapter_sha() != first

    assert _sft_cli(work, tmp_path, params).exit_code == 0
    assert summary()["resumed_from_step"] is None
    assert adapter_sha() == first


def test_balanced_subset_teaches_each_verdict_about_equally():
    # 30 TIE pairs and 10 decided pairs (A in one order, B in the other), 2 rows each
    rows = []
    for k in range(40):
        pid = f"p{k:02d}"
        verdicts = ("TIE", "TIE") if k < 30 else ("A", "B")
        rows += [{"pair_id": pid, "order": o, "verdict": v}
                 for o, v in zip(("original", "swapped"), verdicts)]
    plain = rowlib.select_rows(rows, 24, seed=1)
    balanced = rowlib.select_rows(rows, 24, seed=1, balance_verdicts=True)
    count = lambda sub, v: sum(r["verdict"] == v for r in sub)  # noqa: E731
    assert (count(balanced, "A"), count(balanced, "B"), count(balanced, "TIE")) == (8, 8, 8)
    assert count(plain, "TIE") > 12          # a plain draw keeps the pool's 3:1 share of TIE
    assert balanced == rowlib.select_rows(rows, 24, seed=1, balance_verdicts=True)
    pairs = {r["pair_id"] for r in balanced}
    assert all(sum(r["pair_id"] == p for r in balanced) == 2 for p in pairs)  # whole pairs
    # when decided pairs run out, TIE pairs fill the subset
    assert len(rowlib.select_rows(rows, 60, seed=1, balance_verdicts=True)) == 60
