"""A throwaway copy of this repository (tracked + untracked-not-ignored files) with its own
git history, so tests can run `dvc repro` without touching the checkout."""

from __future__ import annotations

import os
import sys
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, check=True, capture_output=True).stdout
    return [f for f in out.decode().split("\0") if f and (REPO / f).is_file()]


def make_copy(dest: Path) -> Path:
    for rel in _files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    env = dvc_env()
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True, env=env, capture_output=True)
    return dest


def dvc_env() -> dict:
    env = dict(os.environ)
    env.update(DVC_NO_ANALYTICS="1", OMP_NUM_THREADS="1", BIAS_JUDGE_PROGRESS="0")
    # The venv's bin first, so `bias-judge` in dvc.yaml resolves without activation.
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    return env


def dvc(repo: Path, *args: str) -> str:
    proc = subprocess.run(["dvc", *args], cwd=repo, env=dvc_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def set_param(repo: Path, dotted: str, value) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    node = params
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def snapshot(repo: Path) -> dict[str, str]:
    """{path: sha256} of every file of the copy outside .git and .dvc."""
    import hashlib

    return {p.relative_to(repo).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in repo.rglob("*") if p.is_file() and not p.is_symlink()
            and p.relative_to(repo).parts[0] not in (".git", ".dvc")}


def written_outside_outs(repo: Path, before: dict[str, str]) -> list[str]:
    """Files the pipeline created or changed that no stage declares as an output. Engine logs
    (`*.log`, diagnostics beside a stage's outputs in the git-ignored data/, models/ and eval/)
    are not outputs and do not count."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        outs = {o.def_path.rstrip("/") for st in dvc_repo.index.stages for o in st.outs}
    after = snapshot(repo)
    changed = [p for p, h in after.items() if before.get(p) != h and p != "dvc.lock"
               and not p.endswith(".log")]
    return sorted(p for p in changed
                  if not any(p == o or p.startswith(o + "/") for o in outs))
