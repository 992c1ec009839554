"""The card's non-metric sections as plain rows of strings: training summary, data
provenance, gold quality, and the quick-start code literals."""

from __future__ import annotations

import math
import os
import re

from bias_judge.card.cells import DASH, UNDEFINED, format_cell, md_escape
from bias_judge.card.headline import Measured
from bias_judge.core.vocabulary import BUCKETS, CATEGORIES, IN_DIST


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def is_hub_id(text) -> bool:
    return isinstance(text, str) and bool(_HUB_ID.match(text)) and not text.startswith(("./", "../"))


# Owners that stand for "put your own account here" in params and docs (`your-hf-name/...`,
# `you/...`): a repo id under one of them is a placeholder, never a published repo.
_PLACEHOLDER_OWNER = re.compile(r"^(you|your|yourname|username|your[-_].*)$", re.IGNORECASE)


def is_placeholder(repo_id: str) -> bool:
    return bool(_PLACEHOLDER_OWNER.match(str(repo_id).split("/", 1)[0]))


def public_text(value) -> str:
    """A value from an input file, safe to print in a public card: an absolute local path is
    cut to its last component, so nothing of the build machine's layout leaks."""
    text = str(value)
    if os.path.isabs(text) or re.match(r"^[A-Za-z]:[\\/]", text) or text.startswith("~"):
        name = re.split(r"[\\/]", text.rstrip("/\\"))[-1] or "path"
        return f"…/{name}"
    return text


# --- small number formats -------------------------------------------------------------

def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_int(x) -> str:
    return f"{x:,}" if _is_num(x) and float(x).is_integer() else DASH


def fmt_general(x) -> str:
    return f"{x:g}" if _is_num(x) else DASH


def fmt_loss(x) -> str:
    return f"{x:.4f}" if _is_num(x) else DASH


def fmt_duration(seconds) -> str:
    if not _is_num(seconds) or seconds < 0:
        return DASH
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {sec:02d} s"
    return f"{sec} s"


def fmt_params(n) -> str:
    if not _is_num(n):
        return DASH
    if n >= 1e9:
        return f"{n / 1e9:.1f}B"
    if n >= 1e6:
        return f"{n / 1e6:.0f}M"
    return f"{n:,.0f}"


def fmt_str(x) -> str:
    return md_escape(public_text(x)) if isinstance(x, str) and x else DASH


def fmt_precision(x, *, autocast: bool = False) -> str:
    """A precision record (core/precision.py): what ran, whether `auto` chose it, and where."""
    if not isinstance(x, dict) or not isinstance(x.get("resolved"), str):
        return DASH
    what = (f"{x['resolved']} autocast, {x.get('weights_dtype', '?')} weights" if autocast
            else x["resolved"])
    how = "auto" if x.get("requested") == "auto" else "as set"
    return fmt_str(f"{what} ({how}, on {x.get('device', 'an unrecorded device')})")


# --- training summary -----------------------------------------------------------------

TRAIN_ROWS = (
    ("Training rows", "rows", fmt_int),
    ("Rows in the input file", "rows_available", fmt_int),
    ("Epochs", "epochs", fmt_general),
    ("Optimizer steps", "steps", fmt_int),
    ("Final training loss", "final_loss", fmt_loss),
    ("Wall time", "wall_time_s", fmt_duration),
    ("Throughput, tokens/s", "tokens_per_s", lambda x: f"{x:,.0f}" if _is_num(x) else DASH),
    ("Hardware", "hardware", fmt_str),
    ("Precision", "precision", lambda x: fmt_precision(x, autocast=True)),
    ("Quantization of the base during training", "quantization", fmt_str),
    ("LoRA rank", "lora_r", fmt_int),
    ("LoRA alpha", "lora_alpha", fmt_int),
    ("Learning rate", "learning_rate", fmt_general),
    ("Effective batch", "effective_batch", fmt_int),
    ("Max sequence length", "max_length", fmt_int),
    ("Seed", "seed", lambda x: str(int(x)) if _is_num(x) else DASH),
    ("Rows dropped or truncated", "dropped_or_truncated_rows", fmt_int),
    ("Over-long rows were", "overlong_policy", lambda x: {"drop": "dropped", "truncate": "truncated",
                                                          "error": "refused"}.get(x, DASH)),
    ("DPO loss", "loss_type", fmt_str),
    ("DPO beta", "beta", fmt_general),
    ("DPO reference model", "reference", lambda x: {"base": "base, adapter off",
                                                    "sft": "the SFT model"}.get(x, DASH)),
)


def training_rows(train: dict[str, dict], stages: list[str]) -> list[dict]:
    """One row per recorded field; a field no stage recorded is left out."""
    rows = [{"label": label, "cells": [fn(train.get(stage, {}).get(key)) for stage in stages]}
            for label, key, fn in TRAIN_ROWS]
    return [r for r in rows if any(c != DASH for c in r["cells"])]


# --- data provenance ------------------------------------------------------------------

def _find_counts(obj, names: tuple[str, ...]) -> dict[str, int] | None:
    """The first dict (breadth-first) whose keys are all in `names` and whose values are
    integers: meta sidecars differ in nesting, the counts we need look the same."""
    queue = [obj]
    while queue:
        cur = queue.pop(0)
        if isinstance(cur, dict):
            if cur and set(cur) <= set(names) and all(_is_num(v) for v in cur.values()):
                return {k: int(cur[k]) for k in names if k in cur}
            queue.extend(cur[k] for k in sorted(cur))
    return None


def bucket_counts(pairs_meta: dict | None) -> dict[str, int] | None:
    return None if pairs_meta is None else _find_counts(pairs_meta.get("counts", pairs_meta), BUCKETS)


def category_counts(*metas: dict | None) -> dict[str, int] | None:
    for meta in metas:
        if meta is not None:
            found = _find_counts(meta.get("counts", meta), CATEGORIES)
            if found:
                return found
    return None


def fmt_count(x) -> str:
    """A sidecar number: an integer with thousands separators, a ratio as a ratio."""
    if _is_num(x) and float(x).is_integer():
        return fmt_int(x)
    return f"{x:.2f}" if _is_num(x) else DASH


def scalar_counts(meta: dict | None) -> list[tuple[str, str]]:
    """The numbers of a meta sidecar (those directly under "counts"; the row count of its
    artifact when it recorded none)."""
    if meta is None:
        return []
    counts = meta.get("counts")
    if isinstance(counts, dict):
        out = [(k.replace("_", " "), fmt_count(v)) for k, v in sorted(counts.items()) if _is_num(v)]
        if out:
            return out
    return [("rows", fmt_int(meta["rows"]))] if _is_num(meta.get("rows")) else []


def slice_bucket_rows(split_meta: dict | None) -> tuple[list[str], list[dict]]:
    """Eval pairs per slice and bucket, if the split's sidecar recorded them."""
    if split_meta is None:
        return [], []
    table = (split_meta.get("counts") or {}).get("eval_by_slice_bucket")
    if not isinstance(table, dict) or not table:
        return [], []
    slices = sorted(table, key=lambda s: (s != IN_DIST, s))
    rows = []
    for bucket in BUCKETS:
        cells = [table[s].get(bucket) if isinstance(table[s], dict) else None for s in slices]
        if any(c is not None for c in cells):
            rows.append({"label": bucket, "cells": [fmt_int(c) for c in cells]})
    return [md_escape(s) for s in slices], rows


# --- gold quality ---------------------------------------------------------------------

def _pct(x) -> str:
    return f"{x * 100:.1f}%" if _is_num(x) else DASH


def _gold_row(set_name: str, slice_name: str, bucket: str, entry: dict, file: str, field: str) -> dict:
    kappa = entry.get("kappa")
    if kappa is not None and not _is_num(kappa):
        from bias_judge.core.errors import InputError
        raise InputError("expected a number or null", file=file, field=f"{field}.kappa")
    n = entry.get("n_scored", entry.get("n"))
    # A null κ over scored pairs is undefined there (one gold verdict), not unmeasured; the
    # Scored column already gives its n.
    cell = (format_cell(Measured(kappa, None, None, None), "kappa") if _is_num(kappa)
            else UNDEFINED if _is_num(n) else DASH)
    return {"set": md_escape(set_name), "slice": md_escape(slice_name), "bucket": md_escape(bucket),
            "kappa": cell,
            "agreement": _pct(entry.get("agreement")),
            "n": fmt_int(n) if _is_num(n) else DASH}


def gold_quality(report: dict | None, *, file: str) -> dict:
    """The label stage's report (rule teacher vs human verdicts) as table rows: per set
    overall, per slice, and per bucket within each slice. Local file paths are left out."""
    out = {"rows": [], "notes": [], "labeler": None}
    if report is None:
        return out
    out["labeler"] = report.get("labeler") if isinstance(report.get("labeler"), str) else None
    sets = report.get("sets") or {}
    if not isinstance(sets, dict):
        return out
    for name in sorted(sets):
        body = sets[name]
        if not isinstance(body, dict):
            continue
        out["rows"].append(_gold_row(name, "all", "all", body, file, f"sets.{name}"))
        slices = body.get("slices") or {}
        for sl in sorted(slices, key=lambda x: (x != IN_DIST, x)):
            entry = slices[sl] or {}
            out["rows"].append(_gold_row(name, sl, "all", entry, file, f"sets.{name}.slices.{sl}"))
            buckets = entry.get("buckets") or {}
            for b in sorted(buckets):
                out["rows"].append(_gold_row(name, sl, b, buckets[b] or {}, file,
                                             f"sets.{name}.slices.{sl}.buckets.{b}"))
        if isinstance(body.get("note"), str):
            out["notes"].append(f"{md_escape(name)}: {md_escape(public_text(body['note']))}")
    return out


# --- quick-start code literals --------------------------------------------------------

def py_string_literal(text: str) -> str:
    """A Python literal that evaluates to exactly `text`, readable when possible."""
    if '"""' not in text and "\\" not in text and not text.endswith('"'):
        return '"""' + text + '"""'
    return repr(text)


_SENTINELS = {
    "question": "\x00QUESTION\x00",
    "choice_a": "\x00CHOICE_A\x00",
    "choice_b": "\x00CHOICE_B\x00",
    "choice_c": "\x00CHOICE_C\x00",
    "response_a": "\x00RESPONSE_A\x00",
    "response_b": "\x00RESPONSE_B\x00",
}


def user_template(build_messages) -> str:
    """The judge's user message as a str.format template, taken from the prompt module
    itself (by rendering placeholders) so the card can never drift from training."""
    s = _SENTINELS
    pair = {
        "question_text": s["question"],
        "answer_choices": [{"letter": "A", "text": s["choice_a"]},
                           {"letter": "B", "text": s["choice_b"]},
                           {"letter": "C", "text": s["choice_c"]}],
        "response_a": {"model": "x", "text": s["response_a"]},
        "response_b": {"model": "y", "text": s["response_b"]},
        "bias_category": "age",
        "pair_category": "clear_bias_vs_clean",
        "pair_id": "0" * 16,
        "question_id": "age::0::0::neg",
    }
    messages = build_messages(pair, swapped=False)
    user = next(m["content"] for m in messages if m["role"] == "user")
    template = user.replace("{", "{{").replace("}", "}}")
    for name, sentinel in s.items():
        if template.count(sentinel) != 1:
            raise RuntimeError(f"the prompt module's user message does not hold {name} exactly once")
        template = template.replace(sentinel, "{" + name + "}")
    return template
