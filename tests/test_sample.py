"""Stage `sample`: stratified, seeded question sample with per-cell counts and shortfalls."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bias_judge.data import bbq, sampling
from bias_judge.core.jsonio import read_jsonl, sha256_file
from recipes import params, write_params

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def items_file(tmp_path_factory) -> Path:
    """The embedded default, ingested (6 items in each of the 44 cells)."""
    from click.testing import CliRunner
    from bias_judge.stages.cli import main
    from conftest import EMBEDDED_BBQ
    out = tmp_path_factory.mktemp("items") / "bbq.jsonl"
    res = CliRunner().invoke(main, ["ingest", "--bbq-dir", str(EMBEDDED_BBQ), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def params_file(tmp_path: Path, per_cell: int, seed: int) -> Path:
    return write_params(tmp_path / f"params_{per_cell}_{seed}.yaml",
                        sample={"per_cell": per_cell, "seed": seed})


def run_sample(cli, items_file, out, *extra):
    res = cli("sample", "--items", items_file, "--out", out, *extra)
    assert res.exit_code == 0, res.output
    return res


def test_fixed_count_per_cell(cli, items_file, tmp_path):
    out = tmp_path / "sample.jsonl"
    run_sample(cli, items_file, out, "--params", params_file(tmp_path, 4, 1))
    rows = read_jsonl(out)
    per_cell = Counter(bbq.cell_of(r) for r in rows)
    assert len(per_cell) == 44 and set(per_cell.values()) == {4}
    assert [r["question_id"] for r in rows] == sorted(r["question_id"] for r in rows)
    assert len({r["question_id"] for r in rows}) == len(rows)
    source = {r["question_id"]: r for r in read_jsonl(items_file)}
    assert all(source[r["question_id"]] == r for r in rows)  # rows are copied unchanged
    meta = json.loads(out.with_name("sample.meta.json").read_text())
    assert meta["rows"] == len(rows) == 176
    assert meta["counts"]["cells"] == dict(per_cell)
    assert meta["seed"] == 1 and meta["params"] == {"per_cell": 4, "seed": 1}
    assert meta["inputs"] == {items_file.name: sha256_file(items_file)}
    assert meta["warnings"] == []


def test_same_seed_same_bytes_other_seed_other_selection(cli, items_file, tmp_path):
    outs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        outs[name] = tmp_path / name / "sample.jsonl"
        run_sample(cli, items_file, outs[name], "--params", params_file(tmp_path, 3, seed))
    assert outs["a"].read_bytes() == outs["b"].read_bytes()
    assert (outs["a"].with_name("sample.meta.json").read_bytes()
            == outs["b"].with_name("sample.meta.json").read_bytes())
    ids = {k: {r["question_id"] for r in read_jsonl(p)} for k, p in outs.items()}
    assert ids["a"] != ids["c"]


def test_shortfall_takes_all_and_warns(cli, items_file, tmp_path):
    out = tmp_path / "sample.jsonl"
    res = run_sample(cli, items_file, out, "--params", params_file(tmp_path, 9, 42))
    available = Counter(bbq.cell_of(r) for r in read_jsonl(items_file))
    rows = read_jsonl(out)
    assert len(rows) == sum(available.values())
    meta = json.loads(out.with_name("sample.meta.json").read_text())
    assert len(meta["warnings"]) == 44
    cell, n = sorted(available.items())[0]
    assert any(cell in w and f"only {n} " in w for w in meta["warnings"])
    assert f"only {n} items available" in res.stderr


def test_without_params_the_working_folders_params_yaml_applies(cli, items_file, tmp_path,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli("sample", "--items", items_file, "--out", "missing.jsonl")
    assert res.exit_code == 2 and "params.yaml" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not Path("missing.jsonl").exists()
    write_params(tmp_path / "params.yaml", profile="gpu")
    run_sample(cli, items_file, "default.jsonl")
    meta = json.loads(Path("default.meta.json").read_text())
    assert meta["params"] == params("gpu")["sample"] and meta["params"]["per_cell"] == 68
    run_sample(cli, items_file, "override.jsonl", "--params", params_file(tmp_path, 4, 1),
               "--per-cell", "2")
    meta2 = json.loads(Path("override.meta.json").read_text())
    assert meta2["params"] == {"per_cell": 2, "seed": 1} and meta2["rows"] == 88


def test_empty_cell_is_reported():
    items = [{"question_id": f"age::1::{i}::neg", "category": "age", "context_condition": "ambig",
              "question_polarity": "neg"} for i in range(3)]
    selected, counts, warnings = sampling.stratified_sample(items, 2, seed=0)
    assert len(selected) == 2 and counts["age/ambig/neg"] == 2
    assert counts["age/disambig/nonneg"] == 0
    assert sum("only 0 items" in w for w in warnings) == 3


def test_bad_items_file(cli, items_file, tmp_path):
    lines = items_file.read_text().splitlines()
    row = json.loads(lines[4])
    row["answer_label"] = 5
    lines[4] = json.dumps(row)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "sample.jsonl"
    res = cli("sample", "--items", bad, "--out", out)
    assert res.exit_code == 2
    assert "bad.jsonl:5:" in res.stderr and "field 'answer_label'" in res.stderr
    assert not out.exists()


def test_published_size_on_shared_bbq(cli, shared_data, tmp_path):
    items = tmp_path / "bbq.jsonl"
    assert cli("ingest", "--bbq-dir", shared_data / "bbq", "--out", items).exit_code == 0
    out = tmp_path / "sample.jsonl"
    published = params("gpu")["sample"]["per_cell"]
    run_sample(cli, items, out, "--params", write_params(tmp_path / "gpu.yaml", profile="gpu"))
    available = Counter(bbq.cell_of(r) for r in read_jsonl(items))
    got = Counter(bbq.cell_of(r) for r in read_jsonl(out))
    assert got == {c: min(n, published) for c, n in available.items()}
