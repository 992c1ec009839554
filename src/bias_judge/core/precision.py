"""What `auto` precision means on this machine, and what was resolved.

A bf16 recipe is only fast where the hardware computes bf16: on a CPU without bf16 units torch
emulates it and a matmul runs ~40x slower than in fp32 (docs/precision.md has the numbers), so a
recipe tuned on one CPU family becomes unusable on another. `auto` therefore asks the hardware:

- CPU: bf16 where the CPU has bf16 dot-product instructions (x86: AMX or AVX512-BF16; arm64:
  the BF16 extension, `bf16` in /proc/cpuinfo) and oneDNN, which runs torch's bf16 matmuls,
  is not capped below them by `ONEDNN_MAX_CPU_ISA`; otherwise fp32.
- CUDA: bf16 where the GPU supports it (Ampere and newer), otherwise fp16.

Two vocabularies name the same choice: weights dtypes (`float32`, `bfloat16`, `float16`: the
`model`, `eval` and `candidates.llm` sections) and autocast precisions (`fp32`, `bf16`,
`fp16`: `sft` and `dpo`). An explicit value is kept as written; `emulation_warning` says when
this machine only emulates it.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

AUTO = "auto"
DTYPE_OF_PRECISION = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
PRECISION_OF_DTYPE = {v: k for k, v in DTYPE_OF_PRECISION.items()}

# x86 /proc/cpuinfo flags that give native bf16 matmuls (AMX tiles or AVX512 BF16 dot products).
X86_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
# arm64 /proc/cpuinfo Features: FEAT_BF16 (BFDOT/BFMMLA), e.g. Neoverse V1/V2, N2; not N1.
ARM_BF16_FLAGS = ("bf16",)
# oneDNN ISA caps below its first native-bf16 level (avx512_core_bf16): with one of these in
# ONEDNN_MAX_CPU_ISA, bf16 matmuls are emulated even on a CPU that has the instructions.
ONEDNN_CAPS_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE",
                            "AVX512_CORE_VNNI")


@dataclass(frozen=True)
class Device:
    """The compute device `auto` was resolved on."""
    kind: str                    # cpu | cuda
    name: str                    # CPU model name or GPU name
    bf16_flags: tuple[str, ...]  # the native-bf16 features found (CPU), empty on CUDA
    native_bf16: bool
    note: str = ""               # why bf16 is not native although the flags are there

    def describe(self) -> str:
        if self.kind == "cuda":
            return f"{self.name} ({'bf16' if self.native_bf16 else 'no bf16'})"
        if self.native_bf16:
            return f"{self.name} (native bf16: {', '.join(self.bf16_flags)})"
        return f"{self.name} (no native bf16{': ' + self.note if self.note else ''})"


def parse_cpuinfo(text: str, machine: str) -> tuple[str, set[str]]:
    """CPU model name and feature flags from /proc/cpuinfo's text (x86 `model name` and
    `flags`; arm64 `Features`, and `CPU implementer`/`CPU part` where it has no model name)."""
    name, flags, part = "", set(), ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model") and not name:
            name = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
        elif key == "cpu part" and not part:
            part = value.strip()
    return name or f"{machine} CPU{' part ' + part if part else ''}", flags


def cpu_device(name: str, flags: set[str], machine: str, onednn_cap: str | None) -> Device:
    """The CPU's bf16 facts from its flags (a pure function: tests fake every CPU with it)."""
    wanted = ARM_BF16_FLAGS if machine in ("aarch64", "arm64") else X86_BF16_FLAGS
    found = tuple(f for f in wanted if f in flags)
    cap = (onednn_cap or "").strip().upper()
    if found and cap in ONEDNN_CAPS_WITHOUT_BF16:
        return Device("cpu", name, found, False, f"ONEDNN_MAX_CPU_ISA={cap} caps oneDNN below bf16")
    return Device("cpu", name, found, bool(found))


@lru_cache(maxsize=1)
def detect() -> Device:
    """This process's device: the first CUDA GPU if torch sees one, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return Device("cuda", torch.cuda.get_device_name(0), (), bool(torch.cuda.is_bf16_supported()))
    machine = platform.machine().lower()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux: no flags to read, so bf16 is not assumed
        text = ""
    name, flags = parse_cpuinfo(text, machine)
    return cpu_device(name, flags, machine, os.environ.get("ONEDNN_MAX_CPU_ISA"))


def auto_precision(device: Device) -> str:
    if device.native_bf16:
        return "bf16"
    return "fp16" if device.kind == "cuda" else "fp32"


def resolve_precision(value: str, device: Device | None = None) -> str:
    """An autocast precision (bf16 | fp16 | fp32 | auto) -> the one to run."""
    return auto_precision(device or detect()) if value == AUTO else value


def resolve_dtype(value: str, device: Device | None = None) -> str:
    """A weights dtype (bfloat16 | float16 | float32 | auto) -> the one to load."""
    return DTYPE_OF_PRECISION[auto_precision(device or detect())] if value == AUTO else value


def emulation_warning(value: str, device: Device | None = None, *, field: str) -> str | None:
    """One line when an explicit bf16/fp16 runs emulated here (slow), else None."""
    device = device or detect()
    precision = PRECISION_OF_DTYPE.get(value, value)
    if device.kind == "cpu" and precision == "bf16" and not device.native_bf16:
        return (f"warning: {field}: {value} on {device.describe()} is emulated and many times "
                f"slower than float32; set {field}: auto")
    if device.kind == "cuda" and precision == "bf16" and not device.native_bf16:
        return f"warning: {field}: {value} is not supported by {device.name}; set {field}: auto"
    return None


def record(requested: str, resolved: str, device: Device | None = None) -> dict:
    """What an artifact records about one precision setting."""
    device = device or detect()
    return {"requested": requested, "resolved": resolved, "device": device.describe(),
            "native_bf16": device.native_bf16}
