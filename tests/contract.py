"""What each dvc.yaml stage really depends on, derived from the code: the project files its
command imports (transitively, lazy imports inside functions included) and the params keys
its stage module declares that it reads. tests/test_dvc_contract.py holds dvc.yaml to it."""

from __future__ import annotations

import ast
import re
import shlex
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Installed package -> the folder it lives in (pyproject.toml's package-dir).
ROOTS = {"bias_judge.stages": REPO / "stages", "bias_judge.schemas": REPO / "schemas",
         "bias_judge.model_card": REPO / "model_card", "bias_judge": REPO / "src" / "bias_judge"}
# Registries name modules in strings ("bias_judge.data.generators.llm:LLMGenerator").
MODULE_STRING = re.compile(r"^bias_judge(\.\w+)+(:\w+)?$")


def module_file(name: str) -> Path | None:
    """The file a project module is loaded from (a package's __init__.py), or None."""
    for root in sorted(ROOTS, key=len, reverse=True):
        if name == root or name.startswith(root + "."):
            base = ROOTS[root].joinpath(*name[len(root):].split(".")[1:])
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
            return None
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Project modules named by one file: import statements anywhere (function bodies too,
    relative ones resolved) and module-path strings; `from P import x` counts P.x when x is
    a module. Every parent package of a module is imported with it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and MODULE_STRING.match(node.value):
            found.add(node.value.split(":")[0])
    out = set()
    for name in found:
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in out if m.startswith("bias_judge") and module_file(m) is not None}


@lru_cache(maxsize=None)
def closure(*roots: str) -> frozenset[str]:
    """Every project module that importing `roots` may load."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_imports(module_file(name), name) - seen)
    return frozenset(seen)


def is_declaration_only(path: Path) -> bool:
    """A file of nothing but a docstring and constant assignments (package markers, the
    version string): it computes nothing a stage's output could depend on."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        return False
    return True


def resource_files(module: str, outs: set[str]) -> set[str]:
    """Data files of a resource package (schemas/, model_card/): read through
    importlib.resources, so they are inputs too (a stage's own outputs aside)."""
    folder = module_file(module).parent
    return {p.relative_to(REPO).as_posix() for p in folder.rglob("*")
            if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
            and p.relative_to(REPO).as_posix() not in outs}


def stage_module(cmd: str) -> str:
    """The stage module a `bias-judge NAME ...` command runs."""
    from bias_judge.stages.cli import COMMANDS

    words = shlex.split(cmd)
    assert words[0] == "bias-judge", cmd
    return f"bias_judge.stages.{COMMANDS[words[1]][0]}"


def code_deps(cmd: str, outs: set[str]) -> set[str]:
    """Repository paths a stage command depends on through its code."""
    needed = set()
    for module in closure("bias_judge.stages.cli", stage_module(cmd)):
        path = module_file(module)
        if not is_declaration_only(path):
            needed.add(path.relative_to(REPO).as_posix())
        if module in ("bias_judge.schemas", "bias_judge.model_card"):
            needed |= resource_files(module, outs)
    return needed


def params_read(cmd: str) -> set[str]:
    """The params keys the stage module declares it reads (PARAMS)."""
    import importlib

    return set(importlib.import_module(stage_module(cmd)).PARAMS)
