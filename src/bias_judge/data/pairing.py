"""Judge pairs from classified candidates, in five buckets (docs/data-formats.md#pairs).

Per question, two responses from different generators form a pair. Buckets are filled in a
fixed order (adversarial first), each up to its quota, at most `max_per_question` pairs per
question per bucket, and a pair taken by an earlier bucket is not offered again. Which
response sits in slot A is a seeded coin flip.

A generator that contributed several samples to the pool (K > 1) is split into one
generator per sample, `name#k`, so that two samples of one model can be paired and every
pair keeps a distinct, symmetric pair_id.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from bias_judge.core import jsonio
from bias_judge.core.artifacts import Output, Sidecar, StageResult, beside, checksums
from bias_judge.core.settings import BucketCounts, Section, Seed, as_params
from bias_judge.core.vocabulary import BUCKETS, LETTERS
from bias_judge.data.classify import letter_of
from bias_judge.core.errors import InputError

# The adversarial "long" rule: the biased answer has at least this many times the words of a
# clean answer that itself has at least MIN_CLEAN_WORDS words.
LONG_FACTOR = 2
MIN_CLEAN_WORDS = 5


class PairsSettings(Section):
    """params section `pairs`."""
    source: Literal["build", "import"] = Field(description=(
        "build: from the candidates; import: the published pairs.jsonl at import_file"))
    import_file: str | None
    seed: Seed
    max_per_question: int = Field(ge=1, description="per question and bucket")
    quotas: BucketCounts = Field(description="bucket -> pairs wanted")


def pair_id(question_id: str, model_a: str, model_b: str) -> str:
    """First 16 hex of SHA-1 over the two sorted `question_id::model` strings joined by '|'.
    Symmetric in A/B; reproduces the published pair ids."""
    keys = sorted((f"{question_id}::{model_a}", f"{question_id}::{model_b}"))
    return hashlib.sha1("|".join(keys).encode("utf-8")).hexdigest()[:16]


def _adversarial(first: dict, second: dict) -> bool:
    if first["level"] != "biased" or second["level"] != "neutral":
        return False
    long_biased = (second["words"] >= MIN_CLEAN_WORDS
                   and first["words"] >= LONG_FACTOR * second["words"])
    loud_vs_careful = bool(first.get("confident")) and bool(second.get("uncertain"))
    return long_biased or loud_vs_careful


def _clear(first: dict, second: dict) -> bool:
    return first["level"] == "biased" and not first["hedged"] and second["level"] == "neutral"


def _subtle(first: dict, second: dict) -> bool:
    return first["level"] == "biased" and first["hedged"] and second["level"] == "neutral"


def _tracked(first: dict, second: dict) -> bool:
    return first["level"] == "biased" and second["level"] == "unclear"


def _tie(first: dict, second: dict) -> bool:
    return first["level"] == "neutral" and second["level"] == "neutral"


RULES = {
    "adversarial": _adversarial,
    "clear_bias_vs_clean": _clear,
    "subtle_bias_vs_clean": _subtle,
    "tracked_bias_vs_alternate": _tracked,
    "both_clean_tie": _tie,
}


@dataclass
class PairReport:
    counts: dict[str, int] = field(default_factory=dict)
    available: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def response_model_names(candidates: Iterable[dict]) -> dict[str, str]:
    """candidate_id -> model name used in pairs: the generator, or `generator#k` for
    generators that gave more than one sample anywhere in the pool."""
    candidates = list(candidates)
    multi = {c["generator"] for c in candidates if c.get("sample_index", 0) > 0}
    return {c["candidate_id"]: (f"{c['generator']}#{c.get('sample_index', 0)}"
                                if c["generator"] in multi else c["generator"])
            for c in candidates}


def _by_question(candidates: list[dict]) -> dict[str, list[tuple[str, dict]]]:
    names = response_model_names(candidates)
    grouped: dict[str, dict[str, dict]] = defaultdict(dict)
    for c in candidates:
        if c["level"] is None:  # parse failures are never paired
            continue
        model = names[c["candidate_id"]]
        if model in grouped[c["question_id"]]:
            raise InputError(f"two responses from '{model}' to question {c['question_id']}",
                             field="candidate_id")
        grouped[c["question_id"]][model] = c
    return {q: sorted(models.items()) for q, models in grouped.items()}


def _ordered_pairs(qid: str, responses: list[tuple[str, dict]]) -> list[tuple]:
    """Every (pid, qid, first_model, second_model, first, second) with two different models;
    both orders, since most bucket rules are asymmetric."""
    out = []
    for i, (ma, a) in enumerate(responses):
        for mb, b in responses[i + 1:]:
            pid = pair_id(qid, ma, mb)
            out.append((pid, qid, ma, mb, a, b))
            out.append((pid, qid, mb, ma, b, a))
    return out


def build_pairs(candidates: Iterable[dict], *, quotas: dict[str, int], max_per_question: int,
                seed: int) -> tuple[list[dict], PairReport]:
    """Select pairs bucket by bucket. Returns rows sorted by pair_id and a report."""
    grouped = _by_question(list(candidates))
    ordered = [p for qid in sorted(grouped) for p in _ordered_pairs(qid, grouped[qid])]
    rng = random.Random(seed)
    report = PairReport()
    used: set[str] = set()
    rows: list[dict] = []
    for bucket in BUCKETS:
        quota = int(quotas.get(bucket, 0))
        rule = RULES[bucket]
        symmetric = bucket == "both_clean_tie"
        pool = []
        per_question = Counter()
        for entry in ordered:
            pid, qid, ma, mb, a, b = entry
            if pid in used or (symmetric and mb < ma) or not rule(a, b):
                continue
            pool.append(entry)
            per_question[qid] += 1
        available = sum(min(n, max_per_question) for n in per_question.values())
        rng.shuffle(pool)
        taken = Counter()
        chosen = []
        for entry in pool:
            if len(chosen) >= quota:
                break
            pid, qid = entry[0], entry[1]
            if taken[qid] >= max_per_question or pid in used:
                continue
            used.add(pid)
            taken[qid] += 1
            chosen.append(entry)
        for pid, qid, ma, mb, a, b in chosen:
            if rng.random() < 0.5:
                ma, mb, a, b = mb, ma, b, a
            rows.append(_pair_row(pid, bucket, (ma, a), (mb, b)))
        report.counts[bucket] = len(chosen)
        report.available[bucket] = available
        if available < quota:
            report.warnings.append(
                f"bucket '{bucket}': quota {quota} shrunk to {len(chosen)} "
                f"(only {available} pairs available)")
    rows.sort(key=lambda r: r["pair_id"])
    return rows, report


def _pair_row(pid: str, bucket: str, slot_a: tuple[str, dict], slot_b: tuple[str, dict]) -> dict:
    (ma, a), (mb, b) = slot_a, slot_b
    return {
        "pair_id": pid,
        "question_id": a["question_id"],
        "question_text": a["question_text"],
        "answer_choices": a["answer_choices"],
        "bias_category": a["category"],
        "response_a": {"model": ma, "text": a["text"], "suspected_bias_level": a["level"]},
        "response_b": {"model": mb, "text": b["text"], "suspected_bias_level": b["level"]},
        "pair_category": bucket,
        "facts": {
            "context_condition": a["context_condition"],
            "stereotyped_groups": list(a.get("stereotyped_groups", [])),
            "correct_letter": LETTERS[a["answer_label"]],
            "target_letter": letter_of(a["target_label"]),
            "chosen_a": a["chosen_letter"],
            "chosen_b": b["chosen_letter"],
        },
    }


def bucket_counts(rows: Iterable[dict]) -> dict[str, int]:
    counts = Counter(r["pair_category"] for r in rows)
    return {b: counts.get(b, 0) for b in BUCKETS}


def pairs_file(candidates_path: str | os.PathLike, out: str | os.PathLike,
               s: PairsSettings) -> StageResult:
    """The pairs stage: pairs built from the enriched candidates, or imported."""
    warnings: list[str] = []
    if s.source == "import":
        if not s.import_file:
            raise InputError("source is 'import' but import_file is not set",
                             field="pairs.import_file")
        rows = sorted(jsonio.read_jsonl(s.import_file, schema="pair"), key=lambda r: r["pair_id"])
        counts = {"buckets": bucket_counts(rows)}
        inputs = checksums(s.import_file)
        seed = None
    else:
        candidates = jsonio.read_jsonl(candidates_path, schema="enriched_candidate")
        rows, report = build_pairs(candidates, quotas=s.quotas,
                                   max_per_question=s.max_per_question, seed=s.seed)
        warnings = report.warnings
        counts = {"buckets": report.counts, "available": report.available,
                  "questions": len({r["question_id"] for r in rows})}
        inputs = checksums(candidates_path)
        seed = s.seed
    meta_path, name = beside(out)
    summary = ", ".join(f"{b} {n}" for b, n in counts["buckets"].items())
    return StageResult(
        outputs=[Output(Path(out), rows, "pair", jsonl=True)],
        sidecars=[Sidecar(meta_path, name, rows=len(rows), seed=seed, counts=counts,
                          inputs=inputs, params=as_params(s), warnings=warnings)],
        warnings=warnings,
        summary=f"{len(rows)} pairs ({summary}) -> {out}")
