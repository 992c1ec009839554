"""Wall time of every data stage (ingest → format), in one process, on real BBQ and on the
imported published pairs; then a no-op `dvc repro` on the embedded default.

    python benchmarks/bench_data.py --bbq-dir ../shared/data/bbq \
        --pairs ../shared/data/judge-pairs/pairs.jsonl

Targets (issue 2): all data stages together ≤ 3 s on a 2-core machine, excluding interpreter
start-up; a no-op `dvc repro` ≤ 1 s.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def run(cmd: list[str]) -> float:
    from bias_judge.stages.cli import main
    t0 = time.perf_counter()
    try:
        main(cmd, standalone_mode=False)
    except SystemExit as exc:  # one_line_errors exits on bad input
        raise RuntimeError(f"{cmd[0]} failed ({exc.code})") from None
    return time.perf_counter() - t0


def chain(work: Path, params: Path, bbq_dir: str | None, pairs: str | None) -> dict[str, float]:
    d = work / "data"
    steps: list[tuple[str, list[str]]] = []
    if bbq_dir:
        steps += [
            ("ingest", ["ingest", "--bbq-dir", bbq_dir, "--out", f"{d}/bbq.jsonl"]),
            ("sample", ["sample", "--items", f"{d}/bbq.jsonl", "--out", f"{d}/sample.jsonl", "--params", str(params)]),
            ("candidates", ["candidates", "--sample", f"{d}/sample.jsonl", "--out", f"{d}/candidates.jsonl", "--params", str(params)]),
            ("enrich", ["enrich", "--candidates", f"{d}/candidates.jsonl", "--items", f"{d}/sample.jsonl", "--out", f"{d}/enriched.jsonl"]),
        ]
    steps += [
        ("pairs", ["pairs", "--candidates", f"{d}/enriched.jsonl", "--out", f"{d}/pairs.jsonl", "--params", str(params)]),
        ("split", ["split", "--pairs", f"{d}/pairs.jsonl", "--out", f"{d}/split", "--params", str(params)]),
        ("label", ["label", "--pairs", f"{d}/split/train.jsonl", "--out", f"{d}/labels.jsonl",
                   "--gold-report", f"{work}/gold_quality.json", "--params", str(params)]),
        ("format", ["format", "--labels", f"{d}/labels.jsonl", "--out-dir", f"{d}/rows", "--params", str(params)]),
    ]
    return {name: run(cmd) for name, cmd in steps}


def report(title: str, times: dict[str, float], work: Path) -> float:
    total = sum(times.values())
    print(f"\n{title}")
    for name, t in times.items():
        print(f"  {name:<11} {t:7.3f} s")
    print(f"  {'total':<11} {total:7.3f} s   (target ≤ 3 s: {'met' if total <= 3 else 'MISSED'})")
    meta = work / "data" / "pairs.meta.json"
    if meta.exists():
        import json
        print("  pairs per bucket:", json.loads(meta.read_text()).get("counts", {}).get("buckets"))
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bbq-dir", default=str(REPO.parent / "shared/data/bbq"))
    ap.add_argument("--pairs", default=str(REPO.parent / "shared/data/judge-pairs/pairs.jsonl"))
    ap.add_argument("--per-cell", type=int, default=68, help="68 × 44 cells ≈ the 3,000-item sample")
    args = ap.parse_args()

    # Import everything once, so stage timings exclude module loading as well as start-up.
    importlib.import_module("bias_judge.stages.cli")
    base = yaml.safe_load((REPO / "params.yaml").read_text())

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Real BBQ with the template generator, published quotas.
        p = dict(base, sample=dict(base["sample"], per_cell=args.per_cell),
                 candidates=dict(base["candidates"], generator="template"),
                 pairs=dict(base["pairs"], source="build", import_file=None))
        (tmp / "bbq").mkdir()
        (tmp / "bbq/params.yaml").write_text(yaml.safe_dump(p))
        chain(tmp / "bbq", tmp / "bbq/params.yaml", args.bbq_dir, None)  # warm-up (page cache, lazy imports)
        t_bbq = report(f"BBQ {args.bbq_dir} (per_cell {args.per_cell}, template generator)",
                       chain(tmp / "bbq", tmp / "bbq/params.yaml", args.bbq_dir, None), tmp / "bbq")

        # Imported published pairs straight into split → format.
        p = dict(base, pairs=dict(base["pairs"], source="import", import_file=args.pairs))
        (tmp / "imp/data").mkdir(parents=True)
        (tmp / "imp/params.yaml").write_text(yaml.safe_dump(p))
        (tmp / "imp/data/enriched.jsonl").write_text("")
        t_imp = report(f"imported pairs {args.pairs}",
                       chain(tmp / "imp", tmp / "imp/params.yaml", None, args.pairs), tmp / "imp")

        # No-op dvc repro on the embedded default (a copy of this checkout).
        from pipeline_copy import dvc, make_copy
        repo = make_copy(tmp / "repo")
        dvc(repo, "repro", "format")
        t0 = time.perf_counter()
        dvc(repo, "repro", "format")
        noop = time.perf_counter() - t0
        print(f"\nno-op `dvc repro format`: {noop:.2f} s wall (target ≤ 1 s: {'met' if noop <= 1 else 'MISSED'})")
        print(f"\nsummary: bbq chain {t_bbq:.2f} s, import chain {t_imp:.2f} s, no-op repro {noop:.2f} s")


if __name__ == "__main__":
    main()
