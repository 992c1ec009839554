"""The vocabulary (bias_judge.core.vocabulary) is defined once in code; the JSON Schemas spell
it out again as enums, because a schema cannot import Python. Every such enum must agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bias_judge.card.headline import METRIC_KEYS
from bias_judge.core import vocabulary as v
from bias_judge.data.bbq import UPSTREAM_STEMS

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"

# property name in a schema -> the vocabulary its enum must hold
ENUMS = {
    "category": v.CATEGORIES, "bias_category": v.CATEGORIES, "ood_category": v.CATEGORIES,
    "pair_category": v.BUCKETS,
    "level": v.LEVELS, "suspected_bias_level": v.LEVELS,
    "letter": v.LETTERS, "chosen_letter": v.LETTERS, "correct_letter": v.LETTERS,
    "target_letter": v.LETTERS, "chosen_a": v.LETTERS, "chosen_b": v.LETTERS,
    "verdict": v.VERDICTS, "gold_verdict": v.VERDICTS, "labels": v.VERDICTS,
    "run": v.RUNS, "order": v.ORDERS, "order_protocol": v.ORDER_PROTOCOLS, "dtype": v.DTYPES, "precision": v.PRECISIONS,
    "headline_metrics": METRIC_KEYS,
}
# objects whose property names are a vocabulary (one count per bucket)
KEYED = {"quotas": v.BUCKETS, "in_dist": v.BUCKETS}


def _walk(node, prop, where, found):
    if isinstance(node, dict):
        for values_key in ("enum", "const"):
            if values_key in node and isinstance(node[values_key], list):
                found.append((where, prop, [x for x in node[values_key] if x is not None]))
        if "properties" in node and prop in KEYED:
            found.append((where, f"{prop} (keys)", list(node["properties"])))
        for key, child in node.items():
            if key in ("properties", "$defs"):
                for name, sub in child.items():
                    _walk(sub, name, f"{where}/{key}/{name}", found)
            elif key == "items":
                _walk(child, prop, f"{where}/items", found)
            elif key not in ("enum", "const"):
                _walk(child, prop, f"{where}/{key}", found)
    elif isinstance(node, list):
        for i, child in enumerate(node):
            _walk(child, prop, f"{where}/{i}", found)


def _schema_vocabulary():
    found = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        _walk(json.loads(path.read_text()), None, path.name, found)
    return found


def test_every_vocabulary_enum_in_the_schemas_matches_the_code():
    checked = set()
    for where, prop, values in _schema_vocabulary():
        name = prop.removesuffix(" (keys)") if prop else prop
        want = KEYED.get(name) if prop and prop.endswith(" (keys)") else ENUMS.get(name)
        if want is None:
            continue
        assert set(values) == set(want), f"{where}: {sorted(values)} != {sorted(want)}"
        checked.add(prop)
    # A renamed schema property would otherwise silently escape the check.
    assert checked >= set(ENUMS) | {f"{k} (keys)" for k in KEYED}


@pytest.mark.parametrize("names", [v.CATEGORIES, v.BUCKETS, v.VERDICTS, v.RUNS, v.CHECKPOINTS])
def test_vocabularies_have_no_repeats(names):
    assert len(set(names)) == len(names)


def test_categories_are_the_upstream_file_stems():
    assert v.CATEGORIES == tuple(sorted(s.lower() for s in UPSTREAM_STEMS))


def test_released_checkpoints_are_evaluated_ones_and_slices_group():
    assert set(v.RELEASED) <= set(v.CHECKPOINTS)
    assert v.slice_group(v.ood_slice("religion")) == v.OOD and v.slice_group(v.IN_DIST) == v.IN_DIST
    assert v.RUNS[:2] == v.ORDERS and len(v.SAMPLE_RUNS) == 5
