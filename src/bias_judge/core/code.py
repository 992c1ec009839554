"""Which source files a computation runs, found by reading the code rather than running it.

Starting from entry modules, the walk follows every import of a project module (at module
level and inside functions, relative ones resolved) and every module named in a string
("bias_judge.data.generators.llm:LLMGenerator", the way registries load plugins), and adds
the data files of resource packages (`bias_judge.schemas`, `bias_judge.model_card`) that the
code reads through importlib.resources.

Two users: a training run's checkpoint fingerprint hashes the files, so that a checkpoint is
only ever resumed by the code that wrote it; and tests/contract.py holds each dvc.yaml stage's
code deps to the same walk. Files are located through the import system, so the answer is
the code that actually runs, wherever the package is installed, and they are named by module
(not by path) so the same code gives the same names on every machine.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from bias_judge.core.jsonio import sha256_file

PROJECT = "bias_judge"
# Subpackages holding data files read through importlib.resources, not Python code. (Short
# names: a full module name in a string would count as an import of it, see _imports.)
RESOURCE_PACKAGES = ("schemas", "model_card")
# Registries name modules in strings ("bias_judge.data.generators.llm:LLMGenerator").
MODULE_STRING = re.compile(r"^bias_judge(\.\w+)+(:\w+)?$")


@lru_cache(maxsize=None)
def _package_dir(package: str) -> Path | None:
    """The folder a top-level project package is loaded from (an editable install maps some
    of them outside src/); finding it imports only `bias_judge` itself."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def module_file(name: str) -> Path | None:
    """The file a project module is loaded from (a package's __init__.py), or None."""
    parts = name.split(".")
    if parts[0] != PROJECT:
        return None
    # bias_judge.X is located by the import system; deeper modules lie below its folder.
    folder = _package_dir(".".join(parts[:2])) if len(parts) > 1 else None
    if folder is not None:
        base = folder.joinpath(*parts[2:])
    else:
        base = _package_dir(PROJECT).joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
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
    return {m for m in out if m.startswith(PROJECT) and module_file(m) is not None}


def closure(*roots: str) -> frozenset[str]:
    """Every project module that importing `roots` may load."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name)
        if path is None:
            raise ValueError(f"{name} is not a module of this project")
        seen.add(name)
        todo.extend(_imports(path, name) - seen)
    return frozenset(seen)


def is_declaration_only(path: Path) -> bool:
    """A file of nothing but a docstring and constant assignments (package markers, the
    version string): it computes nothing an output could depend on."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        return False
    return True


def resource_files(package: str) -> dict[str, Path]:
    """{package/relative path: file} for the data files of a resource package."""
    folder = module_file(package).parent
    return {f"{package}/{p.relative_to(folder).as_posix()}": p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}


def code_files(*roots: str) -> dict[str, Path]:
    """{name: file} for the code `roots` run: each module that computes something (by module
    name) and each data file of a resource package it reads (package/relative path)."""
    files: dict[str, Path] = {}
    for module in sorted(closure(*roots)):
        path = module_file(module)
        if not is_declaration_only(path):
            files[module] = path
        if module in {f"{PROJECT}.{name}" for name in RESOURCE_PACKAGES}:
            files.update(resource_files(module))
    return files


def code_digest(*roots: str) -> dict[str, str]:
    """{name: sha256} of `code_files(*roots)`: changes exactly when that code does."""
    return {name: sha256_file(path) for name, path in code_files(*roots).items()}
