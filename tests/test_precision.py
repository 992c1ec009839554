"""`auto` precision (core/precision.py): what each kind of CPU and GPU resolves to, for
training, evaluation and candidate generation, and the warning for an emulated explicit value."""

from __future__ import annotations

import platform

import pytest

from bias_judge.core import precision as P
from bias_judge.models.settings import ModelSettings, SFTSettings
from bias_judge.models.training import resolve_precision
from recipes import settings

# /proc/cpuinfo as these CPUs print it (only the lines the parser reads, flags abridged).
ZEN3 = ("model name\t: AMD EPYC 7B13\n"
        "flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2 sha_ni vaes\n")
CASCADE_LAKE = ("model name\t: Intel(R) Xeon(R) Gold 6248\n"
                "flags\t\t: avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni\n")
COOPER_LAKE = ("model name\t: Intel(R) Xeon(R) Platinum 8380H\n"
               "flags\t\t: avx2 avx512f avx512bw avx512vl avx512_vnni avx512_bf16\n")
SAPPHIRE_RAPIDS = ("model name\t: Intel(R) Xeon(R) Platinum 8480+\n"
                   "flags\t\t: avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8\n")
# An AMD EPYC with Zen 4 flags (AVX512-BF16, no AMX) as a 2-core KVM guest printed it, 2026-12-04.
ZEN4 = ("model name\t: AMD EPYC\n"
        "flags\t\t: avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni "
        "avx512_vbmi2\n")
GRAVITON2 = ("processor\t: 0\nBogoMIPS\t: 243.75\n"
             "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
             "asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n")
GRAVITON3 = ("processor\t: 0\nBogoMIPS\t: 2100.00\n"
             "Features\t: fp asimd aes pmull sha1 sha2 crc32 atomics fphp asimdhp asimddp sve "
             "svei8mm svebf16 i8mm bf16 dgh rng\nCPU implementer\t: 0x41\nCPU part\t: 0xd40\n")

CPUS = {  # name -> (cpuinfo text, machine, native bf16?)
    "zen3-avx2": (ZEN3, "x86_64", False),
    "cascade-lake-avx512": (CASCADE_LAKE, "x86_64", False),
    "cooper-lake-avx512-bf16": (COOPER_LAKE, "x86_64", True),
    "sapphire-rapids-amx": (SAPPHIRE_RAPIDS, "x86_64", True),
    "zen4-avx512-bf16": (ZEN4, "x86_64", True),
    "graviton2-neoverse-n1": (GRAVITON2, "aarch64", False),
    "graviton3-neoverse-v1": (GRAVITON3, "aarch64", True),
}


def fake_cpu(name: str, cap: str | None = None) -> P.Device:
    text, machine, _ = CPUS[name]
    model, flags = P.parse_cpuinfo(text, machine)
    return P.cpu_device(model, flags, machine, cap)


@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_auto_on_each_cpu_is_bf16_only_where_it_is_native(cpu):
    native = CPUS[cpu][2]
    device = fake_cpu(cpu)
    assert device.native_bf16 is native
    assert P.resolve_precision("auto", device) == ("bf16" if native else "fp32")
    assert P.resolve_dtype("auto", device) == ("bfloat16" if native else "float32")
    assert ("native bf16:" in device.describe()) is native


def test_cpu_names_come_from_cpuinfo():
    assert fake_cpu("sapphire-rapids-amx").name == "Intel(R) Xeon(R) Platinum 8480+"
    assert fake_cpu("sapphire-rapids-amx").bf16_flags == ("amx_bf16", "avx512_bf16")
    # arm64 prints no model name: the part number stands in for it
    assert fake_cpu("graviton3-neoverse-v1").name == "aarch64 CPU part 0xd40"
    # the x86 flag `avx512_bf16` says nothing on arm64, nor arm's `bf16` on x86
    assert not P.cpu_device("x", {"avx512_bf16"}, "aarch64", None).native_bf16
    assert not P.cpu_device("x", {"bf16"}, "x86_64", None).native_bf16


def test_a_onednn_cap_below_bf16_makes_bf16_emulated():
    # oneDNN runs torch's bf16 matmuls; capped at AVX2 it emulates them even on AMX
    capped = fake_cpu("sapphire-rapids-amx", cap="avx2")
    assert not capped.native_bf16 and "ONEDNN_MAX_CPU_ISA=AVX2" in capped.describe()
    assert P.resolve_precision("auto", capped) == "fp32"
    assert fake_cpu("sapphire-rapids-amx", cap="AVX512_CORE_AMX").native_bf16


def test_cuda_without_bf16_resolves_to_fp16():
    t4 = P.Device("cuda", "Tesla T4", (), False)
    h100 = P.Device("cuda", "NVIDIA H100 80GB HBM3", (), True)
    assert (P.resolve_precision("auto", t4), P.resolve_dtype("auto", t4)) == ("fp16", "float16")
    assert (P.resolve_precision("auto", h100), P.resolve_dtype("auto", h100)) == ("bf16", "bfloat16")
    assert "not supported" in P.emulation_warning("bfloat16", t4, field="eval.dtype")


def test_explicit_values_stay_and_warn_only_where_emulated():
    zen = fake_cpu("zen3-avx2")
    spr = fake_cpu("sapphire-rapids-amx")
    assert P.resolve_precision("bf16", zen) == "bf16"      # kept as written
    assert P.resolve_dtype("float32", spr) == "float32"
    warning = P.emulation_warning("bf16", zen, field="sft.precision")
    assert warning.startswith("warning: sft.precision: bf16 on AMD EPYC 7B13") and "\n" not in warning
    assert P.emulation_warning("bfloat16", spr, field="eval.dtype") is None
    assert P.emulation_warning("fp32", zen, field="sft.precision") is None


def test_this_machine_agrees_with_torch(monkeypatch):
    """detect() reads /proc/cpuinfo; torch reads cpuid. Both must see the same bf16 units."""
    import torch

    if platform.machine().lower() not in ("x86_64", "amd64") or torch.cuda.is_available():
        pytest.skip("torch's bf16 probes are x86 CPU ones")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    P.detect.cache_clear()
    try:
        device = P.detect()
    finally:
        P.detect.cache_clear()
    torch_native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert device.kind == "cpu" and device.native_bf16 is torch_native


@pytest.fixture
def on(monkeypatch):
    """Pretend this process runs on the given device."""
    def use(device: P.Device):
        monkeypatch.setattr(P, "detect", lambda: device)
    return use


@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_training_resolves_auto_and_records_it(on, cpu, capsys):
    device = fake_cpu(cpu)
    on(device)
    model = settings("model", ModelSettings, "cpu")
    sft = settings("sft", SFTSettings, "cpu")
    assert (model.dtype, sft.precision) == ("auto", "auto")   # the committed cpu profile
    model, sft, record = resolve_precision(model, sft, "sft")
    want = "bf16" if CPUS[cpu][2] else "fp32"
    assert sft.precision == want and model.dtype == P.DTYPE_OF_PRECISION[want]
    assert record == {"requested": "auto", "resolved": want, "weights_dtype": model.dtype,
                      "weights_dtype_requested": "auto", "device": device.describe(),
                      "native_bf16": CPUS[cpu][2]}
    assert capsys.readouterr().err == ""   # auto never warns


def test_training_with_explicit_bf16_on_avx2_warns_once_per_field(on, capsys):
    on(fake_cpu("zen3-avx2"))
    model = settings("model", ModelSettings, "cpu", dtype="bfloat16")
    sft = settings("sft", SFTSettings, "cpu", precision="bf16")
    model, sft, record = resolve_precision(model, sft, "sft")
    assert (model.dtype, sft.precision, record["requested"]) == ("bfloat16", "bf16", "bf16")
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[1].strip() for line in err] == ["model.dtype", "sft.precision"]


def test_training_on_cuda_without_bf16_uses_fp16(on):
    on(P.Device("cuda", "Tesla V100-SXM2-16GB", (), False))
    model, sft, record = resolve_precision(settings("model", ModelSettings, "gpu"),
                                           settings("sft", SFTSettings, "gpu"), "sft")
    assert (model.dtype, sft.precision) == ("float16", "fp16")
    assert record["device"] == "Tesla V100-SXM2-16GB (no bf16)"


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from test_inference import write_tiny_model
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.mark.parametrize("cpu", ["zen3-avx2", "sapphire-rapids-amx"])
def test_eval_and_candidate_engines_load_the_resolved_dtype(on, cpu, tiny_model_dir, monkeypatch):
    """The in-process engine behind evaluate and judge, and the one the llm candidate
    generator loads, both from a params value of `auto`."""
    import torch

    import bias_judge.evaluation.inference as inference
    from bias_judge.data.generators.llm import LLMGenerator

    on(fake_cpu(cpu))
    want = torch.bfloat16 if CPUS[cpu][2] else torch.float32
    engine = inference.load_engine(tiny_model_dir, engine="transformers", dtype="auto",
                                   max_model_len=256, seed=0)
    try:
        assert engine.dtype == str(want).removeprefix("torch.")
        assert next(engine.model.parameters()).dtype == want
        assert engine.precision == P.record("auto", engine.dtype, fake_cpu(cpu))
    finally:
        engine.close()

    loaded = []
    real = inference.load_engine

    def spy(*args, **kwargs):
        engine = real(*args, **kwargs)
        loaded.append(next(engine.model.parameters()).dtype)
        return engine
    monkeypatch.setattr(inference, "load_engine", spy)
    gen = LLMGenerator(models=[str(tiny_model_dir)], samples_per_question=1, temperature=0.7,
                       max_new_tokens=1, engine="transformers", dtype="auto", batch_size=1,
                       max_model_len=256, engine_options={})
    assert list(gen.generate([], seed=0)) == []
    assert loaded == [want]
