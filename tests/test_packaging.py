"""A normal install works: the wheel (not the editable install of the checkout) holds every
package, its schemas, card template and embedded data, and its `bias-judge` runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from pipeline_copy import REPO, _files

BUILD_INPUTS = ("pyproject.toml", "setup.py", "src/", "stages/", "schemas/", "model_card/")


def _run(*cmd, cwd: Path) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    # Build from a copy of the sources, so the checkout gets no build/ or egg-info folder.
    source = tmp_path / "source"
    for rel in _files():
        if rel.startswith(BUILD_INPUTS):
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, source / rel)
    wheels = tmp_path / "wheels"
    # No build isolation: the build needs only setuptools, already here, and no network.
    _run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation",
         "-q", "-w", wheels, cwd=tmp_path)
    wheel, = wheels.glob("bias_judge-*.whl")

    # A fresh venv whose dependencies come from this interpreter's site-packages through a
    # .pth line: a path added that way does not run that folder's own .pth files, so the
    # checkout's editable install stays out of the fresh venv.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                        cwd=tmp_path).strip())
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(python, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q", wheel,
         cwd=tmp_path)

    where = _run(python, "-c", "import bias_judge.card.validate as m; print(m.__file__)",
                 cwd=tmp_path).strip()
    assert Path(where).is_relative_to(purelib), where
    out = _run(venv / "bin" / "bias-judge", "--help", cwd=tmp_path)
    assert "card" in out and "evaluate" in out
    out = _run(venv / "bin" / "bias-judge", "card", "validate",
               REPO / "model_card" / "dpo" / "README.md", cwd=tmp_path)
    assert out.startswith("ok ") and "model-index metrics" in out
