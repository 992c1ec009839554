"""The library (src/bias_judge) knows nothing of the stages or of DVC (docs/ARCHITECTURE.md):
no module imports from `bias_judge.stages`, lazily inside a function included, and none reads
a `dvc.lock`."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "bias_judge"


def _imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant):
            found.append(str(node.args[0].value))
    return found


def _library_files() -> list[Path]:
    files = [p for p in SRC.rglob("*.py") if not any(part in ("stages", "__pycache__")
                                                      for part in p.relative_to(SRC).parts)]
    assert len(files) > 50  # the walk really reads the library
    return files


def test_no_library_module_imports_a_stage():
    offenders = {str(p.relative_to(SRC)): [m for m in _imports(ast.parse(p.read_text()))
                                           if m == "bias_judge.stages" or m.startswith("bias_judge.stages.")]
                 for p in _library_files()}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_walk_sees_a_lazy_import_inside_a_function():
    tree = ast.parse("def f():\n    from bias_judge.stages.common import emit\n")
    assert "bias_judge.stages.common" in _imports(tree)


def test_no_library_module_reads_dvc_lock():
    assert [str(p.relative_to(SRC)) for p in _library_files() if "dvc.lock" in p.read_text()] == []
