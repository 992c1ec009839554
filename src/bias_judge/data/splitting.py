"""The eval split: an in-distribution slice, a held-out-category slice, and the training pool
(docs/data-formats.md#split). The procedure is fixed call for call so that seed 42 on the published pairs gives
the published 300-pair holdout and 1,938-pair training pool.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from bias_judge.core import jsonio
from bias_judge.core.artifacts import Output, Sidecar, StageResult, checksums
from pydantic import Field

from bias_judge.core.settings import BucketCounts, Section, Seed, as_params, one_of

from bias_judge.core.errors import InputError
from bias_judge.core.vocabulary import CATEGORIES, IN_DIST, ood_slice
from bias_judge.data.level_rule import more_biased

class SplitSettings(Section):
    """params section `split`."""
    seed: Seed
    ood_category: one_of(CATEGORIES) = Field(description="the held-out category (the OOD slice)")
    in_dist: BucketCounts = Field(description="bucket -> in-distribution eval pairs")
    ood_size: int = Field(ge=0, description="OOD eval pairs, spread over buckets like in_dist")


@dataclass
class Split:
    eval_rows: list[dict]
    train: list[dict]
    counts: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def proportional_targets(in_dist: dict[str, int], size: int) -> dict[str, int]:
    """Scale the in-dist targets to `size`: floors, then the missing units to the largest
    remainders (ties: larger in-dist target first, then bucket name)."""
    total = sum(in_dist.values())
    if total == 0 or size == 0:
        return {b: 0 for b in in_dist}
    targets = {b: n * size // total for b, n in in_dist.items()}
    remainders = {b: n * size % total for b, n in in_dist.items()}
    missing = size - sum(targets.values())
    for b in sorted(in_dist, key=lambda b: (-remainders[b], -in_dist[b], b))[:missing]:
        targets[b] += 1
    return targets


def _by_bucket(pairs: list[dict]) -> dict[str, list[dict]]:
    buckets: dict[str, list[dict]] = {}
    for p in pairs:
        buckets.setdefault(p["pair_category"], []).append(p)
    return buckets


def _draw(rng: random.Random, pool: dict[str, list[dict]], targets: dict[str, int],
          slice_name: str, warnings: list[str]) -> list[dict]:
    drawn: list[dict] = []
    for bucket in sorted(targets):
        available = pool.get(bucket, [])
        want = targets[bucket]
        if want > len(available):
            warnings.append(f"{slice_name}: bucket {bucket} has only {len(available)} pairs for a "
                            f"target of {want}; taking all of them")
            want = len(available)
        drawn.extend(rng.sample(available, want))
    return drawn


def split_pairs(pairs: list[dict], *, seed: int, ood_category: str, in_dist: dict[str, int],
                ood_size: int, biased_vs_unclear: str = "TIE") -> Split:
    """Eval rows (pair + eval_slice + gold_verdict + gold_source) and the training pool, both
    sorted by pair_id."""
    ordered = sorted(pairs, key=lambda p: p["pair_id"])
    held_out = [p for p in ordered if p["bias_category"] == ood_category]
    rest = [p for p in ordered if p["bias_category"] != ood_category]
    ood_targets = proportional_targets(in_dist, ood_size)

    warnings: list[str] = []
    rng = random.Random(seed)
    in_dist_pairs = _draw(rng, _by_bucket(rest), in_dist, IN_DIST, warnings)
    ood_name = ood_slice(ood_category)
    ood_pairs = _draw(rng, _by_bucket(held_out), ood_targets, ood_name, warnings)

    eval_rows = []
    for slice_name, chosen in ((IN_DIST, in_dist_pairs), (ood_name, ood_pairs)):
        for p in chosen:
            eval_rows.append({**p, "eval_slice": slice_name,
                              "gold_verdict": gold_verdict(p, biased_vs_unclear),
                              "gold_source": "rule"})
    eval_rows.sort(key=lambda r: r["pair_id"])
    in_dist_ids = {p["pair_id"] for p in in_dist_pairs}
    train = [p for p in rest if p["pair_id"] not in in_dist_ids]

    counts = {
        "pairs": len(ordered),
        "held_out_category": len(held_out),
        "eval": len(eval_rows),
        "train": len(train),
        "unused_held_out": len(held_out) - len(ood_pairs),
        "eval_by_slice_bucket": {
            s: {b: sum(1 for r in eval_rows if r["eval_slice"] == s and r["pair_category"] == b)
                for b in sorted(in_dist)}
            for s in (IN_DIST, ood_name)
        },
        "ood_targets": ood_targets,
        "train_by_bucket": {b: n for b, n in sorted(_count(train).items())},
    }
    return Split(eval_rows=eval_rows, train=train, counts=counts, warnings=warnings)


def _count(pairs: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in pairs:
        out[p["pair_category"]] = out.get(p["pair_category"], 0) + 1
    return out


def gold_verdict(pair: dict, biased_vs_unclear: str = "TIE") -> str:
    """The MORE biased response by the level rule (see `verdicts.more_biased`)."""
    levels = (pair["response_a"].get("suspected_bias_level"),
              pair["response_b"].get("suspected_bias_level"))
    if None in levels:
        raise InputError(f"pair {pair['pair_id']}: a response has no suspected_bias_level, so "
                         "no gold verdict can be derived", field="suspected_bias_level")
    return more_biased(*levels, biased_vs_unclear=biased_vs_unclear)


# What the split stage writes in its folder; nothing else there is touched.
FILES = {"eval": "eval.jsonl", "train": "train.jsonl", "meta": "split.meta.json"}


def split_file(pairs_path: str | os.PathLike, out_dir: str | os.PathLike,
               s: SplitSettings) -> StageResult:
    """The split stage: pairs -> DIR/eval.jsonl, DIR/train.jsonl and DIR/split.meta.json."""
    pairs = jsonio.read_jsonl(pairs_path, schema="pair")
    result = split_pairs(pairs, seed=s.seed, ood_category=s.ood_category, in_dist=s.in_dist,
                         ood_size=s.ood_size)
    out = Path(out_dir)
    return StageResult(
        outputs=[Output(out / FILES["eval"], result.eval_rows, "eval_pair", jsonl=True),
                 Output(out / FILES["train"], result.train, "pair", jsonl=True)],
        sidecars=[Sidecar(out / FILES["meta"], out.name,
                          rows=len(result.eval_rows) + len(result.train), seed=s.seed,
                          counts=result.counts, inputs=checksums(pairs_path),
                          params=as_params(s), warnings=result.warnings)],
        warnings=result.warnings,
        summary=f"{len(result.eval_rows)} eval pairs, {len(result.train)} training pairs "
                f"-> {out}")
