"""Training past one machine (docs/training.md#several-machines): the accelerate configs parse
with accelerate's own loader and say what docs/training.md says; QLoRA under FSDP stores its
4-bit weights in the compute dtype; and two "machines" on one host (two `accelerate launch`
commands, machine ranks 0 and 1, gloo over 127.0.0.1) train the adapter the one-machine DDP
run trains, byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline_copy import dvc_env

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


def _config(name: str):
    from accelerate.commands.config.config_args import load_config_from_file

    return load_config_from_file(str(CONFIGS / name))


def test_the_multi_machine_configs_parse_and_say_what_the_docs_say():
    ddp = _config("accelerate_multinode_ddp.yaml")
    assert ddp.num_machines == 2 and str(ddp.distributed_type).endswith("MULTI_GPU")
    assert ddp.rdzv_backend == "static" and ddp.same_network
    fsdp = _config("accelerate_fsdp_qlora.yaml")
    assert str(fsdp.distributed_type).endswith("FSDP") and fsdp.num_machines == 2
    assert fsdp.fsdp_config["fsdp_use_orig_params"] is False
    assert fsdp.fsdp_config["fsdp_sharding_strategy"] == "FULL_SHARD"
    docs = (REPO / "docs" / "training.md").read_text()
    for name in ("accelerate_multinode_ddp.yaml", "accelerate_fsdp_qlora.yaml"):
        assert f"configs/{name}" in docs


def test_qlora_under_fsdp_stores_the_4bit_weights_in_the_compute_dtype(monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    from bias_judge.models import training

    seen = {}

    def fake(path, **kwargs):
        seen.update(kwargs)
        raise StopIteration

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", staticmethod(fake))
    from recipes import settings

    base = training.Base("unused", settings("model", training.ModelSettings,
                                            quantization="nf4", dtype="bfloat16"))
    for env, storage, placed in (("true", torch.bfloat16, False), ("", torch.uint8, True)):
        monkeypatch.setenv("ACCELERATE_USE_FSDP", env)
        seen.clear()
        with pytest.raises(StopIteration):
            training.load_base(base)
        assert seen["quantization_config"].bnb_4bit_quant_storage == storage
        assert ("device_map" in seen) is placed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sha(folder: Path) -> str:
    return hashlib.sha256((folder / "adapter_model.safetensors").read_bytes()).hexdigest()


@pytest.mark.slow
def test_two_machines_on_one_host_train_the_ddp_adapter(tmp_path):
    from bias_judge.core.jsonio import write_jsonl
    from bias_judge.models.materialize import materialize
    from test_training import _params, sft_rows  # the tiny model's SFT rows and params

    base = tmp_path / "base"
    materialize("tiny", base)
    rows = tmp_path / "sft.jsonl"
    write_jsonl(rows, sft_rows(6), schema="sft_row")
    params = _params(tmp_path)
    env = dict(dvc_env(), OMP_NUM_THREADS="1")

    def sft(out: str) -> list[str]:
        return ["-m", "bias_judge.stages.cli", "sft", "--model", str(base), "--rows", str(rows),
                "--out-dir", str(tmp_path / out / "models/sft"),
                "--metrics", str(tmp_path / out / "metrics/train_sft.json"),
                "--live-dir", str(tmp_path / out / "dvclive/sft"), "--params", str(params)]

    launch = [sys.executable, "-m", "accelerate.commands.launch"]
    ddp = subprocess.run(launch + ["--config_file", str(CONFIGS / "accelerate_ddp.yaml"),
                                   "--num_processes", "2", "--main_process_port",
                                   str(_free_port())] + sft("ddp"),
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    port = str(_free_port())
    procs = [subprocess.Popen(
        launch + ["--config_file", str(CONFIGS / "accelerate_multinode_ddp.yaml"),
                  "--num_processes", "2", "--num_machines", "2", "--machine_rank", str(rank),
                  "--main_process_ip", "127.0.0.1", "--main_process_port", port]
        + sft("nodes"), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for rank in (0, 1)]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    fingerprint = json.loads((tmp_path / "nodes/models/sft/checkpoints/fingerprint.json")
                             .read_text())
    assert fingerprint["parts"]["world_size"] == 2
    assert _sha(tmp_path / "nodes/models/sft/adapter") == _sha(tmp_path / "ddp/models/sft/adapter")
    assert (json.loads((tmp_path / "nodes/metrics/train_sft.json").read_text())["steps"]
            == json.loads((tmp_path / "ddp/metrics/train_sft.json").read_text())["steps"])
