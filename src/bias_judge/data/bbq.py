"""BBQ upstream files -> normalised items (docs/data-formats.md#items), with the derived stereotype target.

Upstream BBQ has no field for the stereotype-aligned answer. It is derived here from
`answer_info` groups and `stereotyped_groups`, whose spellings differ (`F` / `woman`,
`low SES` / `lowSES`, `trans_F` / `transgender women`, nationality names vs region groups).
For a negative question the target is the person of the stereotyped group; for a
non-negative question it is the other (non-"unknown") person.

Intersectional categories (`race_x_gender`, `race_x_ses`) label people `F-Black`,
`lowSES-M-Latino`, ... but their `stereotyped_groups` name only races: the second dimension
of the stereotype (gender, SES) is a property of the template. It is recovered from the
template's other items, where only one of the two people has a stereotyped race.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

from bias_judge.core.errors import InputError
from bias_judge.core.jsonio import decode, parse_lines, read_bytes
from bias_judge.core.vocabulary import CATEGORIES

# Upstream file stems (nyu-mll/BBQ `data/<stem>.jsonl`); the category is the stem lowercased.
UPSTREAM_STEMS: tuple[str, ...] = (
    "Age", "Disability_status", "Gender_identity", "Nationality", "Physical_appearance",
    "Race_ethnicity", "Race_x_SES", "Race_x_gender", "Religion", "SES", "Sexual_orientation",
)
CONDITIONS = ("ambig", "disambig")
POLARITIES = ("neg", "nonneg")
ANSWER_KEYS = ("ans0", "ans1", "ans2")
UNKNOWN_GROUP = "unknown"


def category_of(name: str) -> str | None:
    """`Race_x_SES` -> `race_x_ses`; None for a name that is not a BBQ category."""
    key = name.lower()
    return key if key in CATEGORIES else None


def cell_of(item: dict) -> str:
    """The stratification cell: category x context condition x question polarity."""
    return f"{item['category']}/{item['context_condition']}/{item['question_polarity']}"


def question_id(category: str, question_index: str, example_id: int, polarity: str) -> str:
    return f"{category}::{question_index}::{example_id}::{polarity}"


# ---------------------------------------------------------------------------------------
# Reading and normalising


def read_bbq_dir(bbq_dir: str | os.PathLike) -> tuple[list[dict], dict[str, str], list[str]]:
    """All `*.jsonl` files of a BBQ directory -> (normalised items sorted by category and
    example_id, {file name: sha256}, warnings). Any defect is an InputError naming file and
    line; a file without rows leaves its category out, with a warning."""
    bbq_dir = Path(bbq_dir)
    if not bbq_dir.is_dir():
        raise InputError("BBQ directory not found", file=str(bbq_dir))
    files = sorted(bbq_dir.glob("*.jsonl"))
    if not files:
        raise InputError("no *.jsonl files in the BBQ directory", file=str(bbq_dir))
    items: list[dict] = []
    inputs: dict[str, str] = {}
    seen: dict[str, str] = {}
    warnings: list[str] = []
    for path in files:
        category = category_of(path.stem)
        if category is None:
            raise InputError(f"file name '{path.name}' is not a BBQ category (expected one of "
                             f"{', '.join(s + '.jsonl' for s in UPSTREAM_STEMS)})",
                             file=str(path), field="category")
        if category in seen:
            raise InputError(f"category '{category}' already read from {seen[category]}",
                             file=str(path), field="category")
        seen[category] = path.name
        data = read_bytes(path)
        # Keyed by name, not path, so the sidecar is the same on every machine.
        inputs[path.name] = hashlib.sha256(data).hexdigest()
        rows = _read_category_file(path, data, category)
        if not rows:
            warnings.append(f"{path.name} has no rows: category '{category}' is left out")
        items.extend(rows)
    if not items:
        raise InputError("no rows in any BBQ file", file=str(bbq_dir))
    derive_targets(items)
    items.sort(key=lambda it: (it["category"], it["example_id"]))
    return items, inputs, warnings


def _read_category_file(path: Path, data: bytes, category: str) -> list[dict]:
    text = decode(data, str(path))
    out: list[dict] = []
    lines_of: dict[int, int] = {}
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and other characters
    # that splitlines() treats as line ends.
    for lineno, row in parse_lines(text.split("\n"), str(path)):
        item = normalise_row(row, category, file=str(path), line=lineno)
        first = lines_of.setdefault(item["example_id"], lineno)
        if first != lineno:
            raise InputError(f"duplicate example_id {item['example_id']} (first at line {first})",
                             file=str(path), line=lineno, field="example_id")
        out.append(item)
    return out


def normalise_row(row, category: str, *, file: str | None = None, line: int | None = None) -> dict:
    """One upstream row -> a normalised item (target_label still None). Hand checks rather
    than a JSON Schema per row: validating ~17k rows with jsonschema takes seconds. The
    common case takes one cheap pass; only a bad row pays for finding the exact field."""
    try:
        item = _fast_normalise(row, category)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        item = None
    if item is None:
        _explain_bad_row(row, category, file, line)
        raise InputError("malformed row", file=file, line=line)  # not reached: explained above
    return item


def _fast_normalise(row: dict, category: str) -> dict | None:
    example_id = row["example_id"]
    qindex = row["question_index"]
    if _is_int(qindex):
        qindex = str(qindex)
    polarity = row["question_polarity"]
    condition = row["context_condition"]
    label = row["label"]
    info = row["answer_info"]
    groups = row["additional_metadata"]["stereotyped_groups"]
    texts = {k: row[k] for k in _TEXT_FIELDS}
    answer_info = {k: info[k] for k in ANSWER_KEYS}
    if not (_is_int(example_id) and example_id >= 0
            and type(qindex) is str and qindex and ":" not in qindex
            and polarity in POLARITIES and condition in CONDITIONS
            and type(row["category"]) is str and row["category"].lower() == category
            and _is_int(label) and 0 <= label <= 2
            and type(groups) is list and all(type(g) is str for g in groups)
            and all(type(t) is str and t.strip() for t in texts.values())
            and all(type(v) is list and len(v) >= 2 and type(v[0]) is str and type(v[1]) is str
                    and all(type(x) is str for x in v[2:]) for v in answer_info.values())):
        return None
    subcategory = row["additional_metadata"].get("subcategory")
    if type(subcategory) is not str or subcategory in ("", "None"):
        subcategory = None
    unknown = [i for i, k in enumerate(ANSWER_KEYS) if answer_info[k][1] == UNKNOWN_GROUP]
    return {
        "question_id": f"{category}::{qindex}::{example_id}::{polarity}",
        "category": category,
        "question_index": qindex,
        "example_id": example_id,
        "question_polarity": polarity,
        "context_condition": condition,
        **texts,
        "answer_label": label,
        "target_label": None,
        "unknown_label": unknown[0] if len(unknown) == 1 else None,
        "stereotyped_groups": list(groups),
        "answer_info": {k: list(v) for k, v in answer_info.items()},
        "subcategory": subcategory,
    }


_TEXT_FIELDS = ("context", "question", *ANSWER_KEYS)


def _explain_bad_row(row, category: str, file: str | None, line: int | None) -> None:
    """Raise the InputError that names the first bad field of a row."""

    def fail(msg: str, field: str | None = None):
        raise InputError(msg, file=file, line=line, field=field)

    if not isinstance(row, dict):
        fail("expected a JSON object")

    def get(key: str, container: dict = row, prefix: str = ""):
        if key not in container:
            fail("missing field", prefix + key)
        return container[key]

    example_id = get("example_id")
    if not _is_int(example_id) or example_id < 0:
        fail(f"must be a non-negative integer, got {example_id!r}", "example_id")
    qindex = get("question_index")
    if _is_int(qindex):
        qindex = str(qindex)
    if not isinstance(qindex, str) or not qindex or ":" in qindex:
        fail(f"must be a non-empty string without ':', got {qindex!r}", "question_index")
    polarity = get("question_polarity")
    if polarity not in POLARITIES:
        fail(f"must be one of {', '.join(POLARITIES)}, got {polarity!r}", "question_polarity")
    condition = get("context_condition")
    if condition not in CONDITIONS:
        fail(f"must be one of {', '.join(CONDITIONS)}, got {condition!r}", "context_condition")
    row_category = get("category")
    if not isinstance(row_category, str) or category_of(row_category) != category:
        fail(f"unknown category {row_category!r}: this file holds '{category}'", "category")
    for key in _TEXT_FIELDS:
        value = get(key)
        if not isinstance(value, str) or not value.strip():
            fail("must be a non-empty string", key)
    label = get("label")
    if not _is_int(label) or not 0 <= label <= 2:
        fail(f"must be 0, 1 or 2, got {label!r}", "label")
    info = get("answer_info")
    if not isinstance(info, dict):
        fail("must be an object", "answer_info")
    for key in ANSWER_KEYS:
        entry = get(key, info, "answer_info.")
        if (not isinstance(entry, list) or len(entry) < 2
                or not all(isinstance(x, str) for x in entry)):
            fail("must be a list [text, group] of strings", f"answer_info.{key}")
    meta = get("additional_metadata")
    if not isinstance(meta, dict):
        fail("must be an object", "additional_metadata")
    groups = get("stereotyped_groups", meta, "additional_metadata.")
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        fail("must be a list of strings", "additional_metadata.stereotyped_groups")


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# ---------------------------------------------------------------------------------------
# Target derivation

_ALIASES = {
    "woman": "f", "women": "f", "girl": "f", "girls": "f", "female": "f", "latina": "latino",
    "man": "m", "men": "m", "boy": "m", "boys": "m", "male": "m",
    # Stereotyped groups say "transgender women"; answer groups say trans_F / trans_M.
    "transgenderwomen": "trans", "transgendermen": "trans", "transgender": "trans",
    "transf": "trans", "transm": "trans",
}
_NON_ALNUM = re.compile(r"[^a-z0-9]")


@lru_cache(maxsize=None)
def _key(s: str) -> str:
    k = _NON_ALNUM.sub("", s.lower())
    return _ALIASES.get(k, k)


def _people(item: dict) -> list[int]:
    """Indices of the two answers that name a person (not the "unknown" option)."""
    return [i for i, k in enumerate(ANSWER_KEYS) if item["answer_info"][k][1] != UNKNOWN_GROUP]


def _plain_stereotyped(item: dict) -> int | None:
    """Non-intersectional categories: the one person whose group, a part of it, or its
    answer_info text is a stereotyped group (after aliasing)."""
    wanted = {_key(g) for g in item["stereotyped_groups"]}
    hits = []
    for i in _people(item):
        text, group = item["answer_info"][ANSWER_KEYS[i]][:2]
        keys = {_key(group), _key(text)} | {_key(p) for p in group.split("-")}
        if keys & wanted:
            hits.append(i)
    return hits[0] if len(hits) == 1 else None


def _intersectional_person(item: dict, i: int) -> tuple[str, str] | None:
    """(second dimension, race) of answer i: `lowSES-M-Latino` -> ("lowses", "latino"),
    `F-Black` -> ("f", "black"). Upstream leaves a few groups empty; then the answer
    text ("The Latina woman") is read instead."""
    text, group = item["answer_info"][ANSWER_KEYS[i]][:2]
    if group:
        parts = group.split("-")
        return (_key(parts[0]), _key(parts[-1])) if len(parts) >= 2 else None
    words = [_key(w) for w in item[ANSWER_KEYS[i]].split()]
    gender = next((w for w in words if w in ("f", "m")), None)
    rest = [w for w in words if w not in ("f", "m", "the", "a", "an")]
    if gender is None or len(rest) != 1:
        return None
    return gender, rest[0]


def _race_matches(race: str, wanted: list[str]) -> bool:
    # Containment, not equality, as in BBQ's own metadata: "African" counts as a match for
    # "African American" in the intersectional categories. The published target labels
    # follow this.
    return bool(race) and any(race in w for w in wanted)


def derive_targets(items: list[dict]) -> None:
    """Set `target_label` on every item (None where no single stereotyped person exists)."""
    inter = [it for it in items if "_x_" in it["category"]]
    second_dim = _template_second_dimension(inter)
    for item in items:
        if "_x_" in item["category"]:
            stereo = _intersectional_stereotyped(item, second_dim.get(id(item)))
        else:
            stereo = _plain_stereotyped(item)
        item["target_label"] = _target_from_stereotyped(item, stereo)


def _target_from_stereotyped(item: dict, stereo: int | None) -> int | None:
    if stereo is None:
        return None
    if item["question_polarity"] == "neg":
        return stereo
    others = [i for i in _people(item) if i != stereo]
    return others[0] if len(others) == 1 else None


def _race_hits(item: dict) -> list[tuple[int, tuple[str, str]]]:
    wanted = [_key(g) for g in item["stereotyped_groups"]]
    hits = []
    for i in _people(item):
        person = _intersectional_person(item, i)
        if person is not None and _race_matches(person[1], wanted):
            hits.append((i, person))
    return hits


def _intersectional_stereotyped(item: dict, dim: str | None) -> int | None:
    hits = _race_hits(item)
    if dim is not None:
        # Two people can both fit (an "African" and a "Black" woman): the first answer
        # wins, as in BBQ's metadata and the published target labels.
        for i, (d, _) in hits:
            if d == dim:
                return i
        return None
    return hits[0][0] if len(hits) == 1 else None


def _template_second_dimension(items: list[dict]) -> dict[int, str | None]:
    """id(item) -> the template's stereotyped gender / SES, by majority over the template's
    items where exactly one person has a stereotyped race. A template is the set of items
    sharing a question_index or a question text: BBQ has variants of a template (group
    labels, proper names) under different indices that ask the same questions, and a small
    sample may hold only the same-race items of one of them."""
    parent: dict[tuple, tuple] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for it in items:
        a = find((it["category"], "index", it["question_index"]))
        b = find((it["category"], "text", it["question"]))
        if a != b:
            parent[a] = b
    votes: dict[tuple, Counter] = defaultdict(Counter)
    for it in items:
        hits = _race_hits(it)
        if len(hits) == 1:
            votes[find((it["category"], "index", it["question_index"]))][hits[0][1][0]] += 1
    chosen = {root: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for root, c in votes.items()}
    return {id(it): chosen.get(find((it["category"], "index", it["question_index"])))
            for it in items}
