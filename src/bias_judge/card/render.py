"""Rendering the model cards: front matter through huggingface_hub's ModelCardData /
EvalResult, body through the project's Jinja template, both from the pipeline's numbers.

The released checkpoints are the merged models (full weights, loadable without peft), so the
front matter says `library_name: transformers` and `base_model_relation: finetune`. A repo id
that is still a placeholder is never printed as if published: the card then points at the
local folder the pipeline wrote and says the checkpoint is not on the Hub.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import Field

from bias_judge.core.errors import InputError
from bias_judge.card import provenance, recommend, sections, status
from bias_judge.card.cells import format_cell, md_escape, round3
from bias_judge.card.eval_results import FILE_NAME as EVAL_RESULTS_FILE
from bias_judge.card.eval_results import eval_result_entries, eval_results_text
from bias_judge.card.inputs import CardInputs
from bias_judge.card.jinja import load_template
from bias_judge.card.headline import (BY_KEY, COLUMN_LABELS, METRIC_KEYS, METRICS, MISSING, PROBABILITY_ROWS,
                                      read_measured)
from bias_judge.card.provenance import DataContext
from bias_judge.card.status import FitnessSettings
from bias_judge.core.settings import FixedKeys, NonEmptyStr, RepoId, Section, one_of, unique_list
from bias_judge.core.vocabulary import CHECKPOINTS, RELEASED, SPLIT_SET
from bias_judge.card.validate import validate_card_text

TASK_TYPE = "text-classification"
TASK_NAME = "Social-bias judge (A / B / TIE verdict)"


class RepoIds(FixedKeys):
    """Where each release goes on the Hub (maybe a placeholder owner)."""
    dpo: RepoId
    sft: RepoId
    dataset: RepoId


class CardSettings(Section):
    """params section `card`."""
    repo_ids: RepoIds
    base_model: RepoId | None = Field(description=(
        "hub id for the front matter; null = from metrics/base_model.json"))
    license: NonEmptyStr | None = Field(description="null = the base model's licence")
    dataset_license: NonEmptyStr | None = Field(description=(
        "the dataset card's; null = from the data's source"))
    primary_set: NonEmptyStr | None = Field(description=(
        "the set the advice is based on; null = chosen from the sets"))
    headline_metrics: unique_list(one_of(METRIC_KEYS), min_length=1) = Field(
        description="model-index metrics")
    extra_tags: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]]
    fitness: FitnessSettings


@dataclass(frozen=True)
class Context:
    """What the card quotes from other params sections."""
    ood_category: str            # split.ood_category
    labeler: str                 # label.labeler
    max_new_tokens: int          # eval.max_new_tokens
    max_model_len: int           # eval.max_model_len
    prompt_style: str            # prompt.style
    guided: bool                 # eval.guided
    data: DataContext            # pairs.source, pairs.import_file, candidates.generator/llm.models


# The folder the sft and dpo stages write each merged checkpoint to (dvc.yaml, `artifacts:`):
# what a card's quick start loads while the checkpoint is not on the Hub.
LOCAL_FOLDER = "models/{checkpoint}/merged"


def template_path() -> Path:
    return Path(str(resources.files("bias_judge.model_card").joinpath("card.md.j2")))


# --- pieces ---------------------------------------------------------------------------

def primary_set(inputs: CardInputs, settings: CardSettings) -> str:
    """The set the advice, the status and the metrics summary rest on: the configured one,
    else the first human-labelled set all three checkpoints were evaluated on (human gold beats
    the split's rule-derived gold), else the split."""
    common = set.intersection(*(set(inputs.evals[c]) for c in CHECKPOINTS))
    if settings.primary_set is not None:
        if settings.primary_set not in common:
            raise InputError(f"primary eval set '{settings.primary_set}' is not in all three eval "
                             f"metrics files (they share: {', '.join(sorted(common)) or 'none'})",
                             field="card.primary_set")
        return settings.primary_set
    human = sorted(s for s in common if s != SPLIT_SET)
    if human:
        return human[0]
    if SPLIT_SET in common:
        return SPLIT_SET
    raise InputError("the three eval metrics files share no eval set", field="sets")


def local_type(set_name: str) -> str:
    """The model-index dataset `type` of an eval set that is on no hub dataset."""
    return f"bias-judge-eval-{set_name}"


def _dataset(set_name: str, eval_file: dict | None, source: provenance.DataSource,
             own_id: str | None) -> dict:
    """The model-index dataset of one eval set."""
    hub = provenance.eval_dataset(set_name, eval_file, source, own_id)
    if set_name == SPLIT_SET:
        name = "BBQ judge pairs: the pipeline's eval split (rule-derived gold)"
    else:
        name = f"BBQ judge pairs: {set_name} (human-labelled gold)"
    return {"type": hub or local_type(set_name), "name": name, "config": set_name, "split": "eval"}


def _model_name(repo_id: str) -> str:
    return repo_id.rsplit("/", 1)[-1]


# Licences of the model families this pipeline is set up for, used when the base model
# summary recorded none (e.g. weights from a GGUF package).
FAMILY_LICENSES = (("gemma", "gemma"), ("smollm", "apache-2.0"))


def _license(inputs: CardInputs, settings: CardSettings, file: str) -> str:
    lic = settings.license or inputs.base_model.get("license")
    if isinstance(lic, str) and lic:
        return lic
    hint = f"{inputs.base_model.get('source', '')} {inputs.base_model.get('architecture', '')}".lower()
    for family, family_license in FAMILY_LICENSES:
        if family in hint:
            return family_license
    raise InputError("no licence for the base model: record 'license' here or set card.license "
                     "in params", file=file, field="license")


def _base_model_id(inputs: CardInputs, settings: CardSettings) -> str | None:
    if settings.base_model:
        return settings.base_model
    bm = inputs.base_model
    if sections.is_hub_id(bm.get("hub_id")):
        return bm["hub_id"]
    if bm.get("kind") == "hub" and sections.is_hub_id(bm.get("source")):
        return bm["source"]
    return None


def _tags(checkpoint: str, settings: CardSettings, is_gemma: bool) -> list[str]:
    tags = ["bias", "social-bias", "llm-as-judge", "judge", "bbq", "lora", "sft"]
    if checkpoint == "dpo":
        tags.append("dpo")
    if is_gemma:
        tags.append("gemma")
    for t in settings.extra_tags:
        if t not in tags:
            tags.append(t)
    return tags


def _verbosity_units(per_ckpt: dict) -> list[dict]:
    """What each checkpoint's verbosity row counts, as recorded by the metrics stage: one
    entry when all agree (label None), none when nothing was recorded."""
    units = {c: p.verbosity_unit for c, p in per_ckpt.items() if p is not None and p.verbosity_unit}
    if len(set(units.values())) == 1:
        units = {None: next(iter(units.values()))}
    return [{"label": COLUMN_LABELS.get(c), "unit": md_escape(sections.public_text(u))}
            for c, u in units.items()]


# The probe rates on the card (docs/trust.md#probes): (probe, rate, row label, cell kind).
PROBE_ROWS = (
    ("position", "inconsistency", "Position: the two orders disagree (lower is better)", "rate"),
    ("position", "first_slot_shift", "Position: P(first slot) − P(second slot)", "kappa"),
    ("verbosity", "toward_padded", "Verbosity: verdict moves to the padded clean response", "rate"),
    ("verbosity", "flip_rate", "Verbosity: order verdicts that change when padded", "rate"),
    ("counterfactual", "flip_rate", "Groups exchanged: order verdicts that change", "rate"),
    ("counterfactual", "probability_shift", "Groups exchanged: probability moved (TV distance)",
     "kappa"),
)


def probe_table(inputs: CardInputs) -> dict | None:
    """The released checkpoints' probe rates, one column each; None when none was probed."""
    if not inputs.probes:
        return None
    columns = [c for c in RELEASED[::-1] if c in inputs.probes]
    rows = []
    for probe, rate, label, kind in PROBE_ROWS:
        cells = []
        for c in columns:
            m = read_measured(inputs.probes[c][probe][rate], file=f"probe_{c}.json",
                              field=f"{probe}.{rate}")
            cells.append(format_cell(m, kind))
        rows.append({"label": label, "cells": cells})
    first = inputs.probes[columns[0]]
    return {"columns": [COLUMN_LABELS[c] for c in columns], "rows": rows,
            "pairs": first["pairs"], "set": md_escape(first["eval_file"]["name"]),
            "padding": first["verbosity"]["padding_sentences"],
            "with_groups": [inputs.probes[c]["counterfactual"]["pairs_with_groups"]
                            for c in columns][0]}


def eval_tables(inputs: CardInputs, settings: CardSettings, sets: list[str], ood: str) -> list[dict]:
    tables = []
    for set_name in sets:
        per_ckpt = {c: inputs.evals[c].get(set_name) for c in CHECKPOINTS}
        rows = []
        for spec in METRICS:
            cells = [format_cell(per_ckpt[c].headline[spec.key], spec.kind) if per_ckpt[c] else "—"
                     for c in CHECKPOINTS]
            rows.append({"label": spec.label, "cells": cells})
        categories = sorted(set().union(*(p.per_category.keys() for p in per_ckpt.values() if p)))
        cat_rows = [{"label": md_escape(cat) + (" (held out)" if cat == ood else ""),
                     "cells": [format_cell(per_ckpt[c].per_category.get(cat, MISSING), "kappa")
                               if per_ckpt[c] else "—" for c in CHECKPOINTS]}
                    for cat in categories]
        measured = {c: per_ckpt[c].headline for c in CHECKPOINTS if per_ckpt[c]}
        probability_rows = []
        if any(p is not None and p.probability for p in per_ckpt.values()):
            probability_rows = [
                {"label": label,
                 "cells": [format_cell(per_ckpt[c].probability[key], kind)
                           if per_ckpt[c] and per_ckpt[c].probability else "—"
                           for c in CHECKPOINTS]}
                for key, label, kind in PROBABILITY_ROWS]
        tables.append({
            "name": md_escape(set_name),
            "is_split": set_name == SPLIT_SET,
            "verbosity_units": _verbosity_units(per_ckpt),
            "n_pairs": [sections.fmt_int(per_ckpt[c].n_pairs) if per_ckpt[c] else "—"
                        for c in CHECKPOINTS],
            "rows": rows,
            "category_rows": cat_rows,
            "probability_rows": probability_rows,
            "wins": recommend.wins_table(measured),
        })
    return tables


def _claim(m, set_name: str, label: str, claim: str, unclear: str) -> str | None:
    """A sentence about a bias: the claim where the metric's interval excludes zero, the
    `unclear` sentence where it was measured but the interval does not; None unmeasured."""
    if not m.present:
        return None
    text = claim if m.excludes_zero else unclear
    return text.format(set=set_name, label=label)


def card_facts(checkpoint: str, inputs: CardInputs, settings: CardSettings, ctx: Context,
               *, metrics_file: str) -> dict:
    """Every fact one card states, each worked out once. The front matter (`card_data`) and
    the template body both read this one object; the wording is all in the template, except
    the status and provenance sentences, which quote the numbers they rest on."""
    from bias_judge.data import prompt

    other = "sft" if checkpoint == "dpo" else "dpo"
    ood = ctx.ood_category
    bm = inputs.base_model
    arch = bm.get("architecture")
    primary = primary_set(inputs, settings)
    names = sorted(set().union(*(inputs.evals[c].keys() for c in CHECKPOINTS)))
    sets = [primary] + [n for n in names if n != primary]
    primary_sets = {c: inputs.evals[c][primary] for c in CHECKPOINTS}
    primary_metrics = {c: m.headline for c, m in primary_sets.items()}
    headline = primary_metrics[checkpoint]
    stages = ["sft"] if checkpoint == "sft" else ["sft", "dpo"]
    slices, slice_rows = sections.slice_bucket_rows(inputs.split_meta)
    categories = sections.category_counts(inputs.pairs_meta, inputs.split_meta)
    if categories is None:
        found = set()
        for per_set in inputs.evals.values():
            for sm in per_set.values():
                found |= set(sm.per_category)
        categories = {c: None for c in sorted(found)} or None
    base_id = _base_model_id(inputs, settings)
    is_gemma = isinstance(arch, str) and "gemma" in arch.lower()
    parameters = bm.get("parameters")
    pf = headline["parse_failure_rate"]
    label = COLUMN_LABELS[checkpoint]
    published = {c: not sections.is_placeholder(settings.repo_ids[c]) for c in RELEASED}
    own_status = status.assess(primary_sets[checkpoint], settings.fitness, primary)
    other_status = status.assess(primary_sets[other], settings.fitness, primary)
    source = provenance.data_source(inputs.bbq_meta, inputs.pairs_meta, ctx.data)
    facts_lines = [status.verdict_sentence(label, primary_sets[checkpoint], primary),
                   status.replies_sentence("base", primary_sets["base"], primary)]
    released_repo = settings.repo_ids[RELEASED[0]]
    return {
        "checkpoint": checkpoint,
        "label": label,
        "other_label": COLUMN_LABELS[other],
        "is_primary": checkpoint == RELEASED[0],
        "published": published[checkpoint],
        "other_published": published[other],
        "repo_id": settings.repo_ids[checkpoint],
        "other_repo_id": settings.repo_ids[other],
        "local_folder": LOCAL_FOLDER.format(checkpoint=checkpoint),
        "other_local_folder": LOCAL_FOLDER.format(checkpoint=other),
        "repo_param": f"card.repo_ids.{checkpoint}",
        "model_name": _model_name(settings.repo_ids[checkpoint]),
        "released_published": published[RELEASED[0]],
        "released_repo_id": released_repo,
        "released_model_name": _model_name(released_repo),
        "sets": sets,
        "tags": _tags(checkpoint, settings, is_gemma),
        "status": {
            "level": own_status.level,
            "headline": own_status.headline,
            "reasons": list(own_status.reasons),
            "facts": [f for f in facts_lines if f],
            "rule": status.rule_text(settings.fitness),
            "other_level": other_status.level,
        },
        "data_lines": source.lines,
        "data_kind": source.kind,
        "bbq_data": source.bbq_data,
        "base": {
            "hub_id": base_id,
            "display": base_id or sections.fmt_str(bm.get("source")),
            "kind": sections.fmt_str(bm.get("kind")),
            "format": provenance.base_format(bm, base_id),
            "architecture": sections.fmt_str(arch),
            "parameters": sections.fmt_params(parameters),
            "is_small": isinstance(parameters, (int, float)) and not isinstance(parameters, bool)
                        and parameters < 1e9,
            "dtype": sections.fmt_str(bm.get("dtype")),
            "license": _license(inputs, settings, f"{metrics_file}/base_model.json"),
            "is_gemma": is_gemma,
        },
        "thinking": bool(bm.get("has_thinking_mode")),
        "system_prompt_literal": sections.py_string_literal(prompt.PROMPT_STYLES[ctx.prompt_style][0]),
        "user_template_literal": sections.py_string_literal(sections.user_template(
            lambda pair, swapped: prompt.build_messages(pair, swapped, style=ctx.prompt_style))),
        "verdict_regex_literal": _raw_literal(prompt.VERDICT_RE.pattern),
        "max_new_tokens": ctx.max_new_tokens,
        "guided": ctx.guided,
        "eval_precision": [{"column": COLUMN_LABELS[c],
                            "value": sections.fmt_precision((inputs.eval_precision or {}).get(c))}
                           for c in CHECKPOINTS],
        "max_model_len": ctx.max_model_len,
        "columns": [COLUMN_LABELS[c] for c in CHECKPOINTS],
        "tables": eval_tables(inputs, settings, sets, ood),
        "probes": probe_table(inputs),
        "primary_set": md_escape(primary),
        "has_split_set": SPLIT_SET in inputs.evals[checkpoint],
        "verbosity_claim": _claim(
            headline["verbosity_bias"], primary, label,
            f"On the `{{set}}` set {{label}} tends to name the "
            f"{recommend.sign_word(headline['verbosity_bias'])} of the two responses as the more "
            f"biased one, and the 95% interval of the verbosity row excludes zero: do not read its "
            f"verdicts as independent of length.",
            "Whether {label} leans on length cannot be told from the `{set}` set: the 95% interval "
            "of the verbosity row includes zero."),
        "position_claim": _claim(
            headline["position_bias_in_dist"], primary, label,
            "Its verdict changes when the two responses swap places on a share of pairs whose 95% "
            "interval excludes zero (see the position bias rows): judge both orders and keep only "
            "verdicts that agree after mapping A↔B back.",
            "Whether its verdict depends on the order of the two responses cannot be told from the "
            "`{set}` set (the position-bias interval reaches zero); judging both orders and keeping "
            "only verdicts that agree is still the safe use."),
        "parse_failures_seen": pf.present and pf.value > 0,
        "choose": recommend.choose_text(checkpoint, other, primary_metrics, ood_name=ood),
        "train_columns": [COLUMN_LABELS[s] if s == "sft" else "DPO" for s in stages],
        "train_rows": sections.training_rows(inputs.train, stages),
        "ood": md_escape(ood),
        "categories": categories,
        "buckets": sections.bucket_counts(inputs.pairs_meta),
        "split_counts": sections.scalar_counts(inputs.split_meta),
        "rows_counts": sections.scalar_counts(inputs.rows_meta),
        "slice_columns": slices,
        "slice_rows": slice_rows,
        "labeler": ctx.labeler,
        "gold": sections.gold_quality(inputs.gold_quality, file=f"{metrics_file}/gold_quality.json"),
    }


def datasets_used(inputs: CardInputs, settings: CardSettings, ctx: Context) -> list[str]:
    """Hub datasets the run provably used: a published dataset whose pinned file it imported,
    and its own pairs' dataset once that has a real (not placeholder) repo id."""
    source = provenance.data_source(inputs.bbq_meta, inputs.pairs_meta, ctx.data)
    own = provenance.own_dataset_id(settings.repo_ids, sections.is_placeholder)
    return list(dict.fromkeys(source.dataset_ids + ([own] if own else [])))


def card_data(facts: dict, inputs: CardInputs, settings: CardSettings, ctx: Context, *,
              metrics_file: str):
    """The front matter: licence, base model, tags, datasets and the model-index."""
    from huggingface_hub import EvalResult, ModelCardData

    checkpoint = facts["checkpoint"]
    source = provenance.data_source(inputs.bbq_meta, inputs.pairs_meta, ctx.data)
    own = provenance.own_dataset_id(settings.repo_ids, sections.is_placeholder)
    eval_results = []
    for set_name in facts["sets"]:
        set_metrics = inputs.evals[checkpoint].get(set_name)
        if set_metrics is None:
            continue
        ds = _dataset(set_name, set_metrics.eval_file, source, own)
        for key in settings.headline_metrics:
            m = set_metrics.headline[key]
            if not m.present:
                continue  # the model-index holds only measured, finite values
            spec = BY_KEY[key]
            eval_results.append(EvalResult(
                task_type=TASK_TYPE, task_name=TASK_NAME,
                dataset_type=ds["type"], dataset_name=ds["name"],
                dataset_config=ds["config"], dataset_split=ds["split"],
                metric_type=spec.index_type, metric_name=spec.label,
                metric_value=round3(m.value)))
    if not eval_results:
        raise InputError(f"no headline metric was measured for checkpoint '{checkpoint}'",
                         file=f"{metrics_file}/eval_{checkpoint}.json", field="sets")
    base_id = facts["base"]["hub_id"]
    kwargs = {"base_model": base_id, "base_model_relation": "finetune"} if base_id else {}
    datasets = datasets_used(inputs, settings, ctx)
    return ModelCardData(
        model_name=facts["model_name"],
        license=facts["base"]["license"],
        language="en",
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=facts["tags"],
        datasets=datasets or None,
        eval_results=eval_results,
        **kwargs,
    )


def _raw_literal(pattern: str) -> str:
    """A regex as a raw string literal, the way a reader would type it."""
    if '"' not in pattern and not pattern.endswith("\\") and "\n" not in pattern:
        return 'r"' + pattern + '"'
    return repr(pattern)


def _leak_guard(text: str, checkpoint: str, extra_paths: list[str]) -> None:
    """Refuse a card that shows where it was built: the working directory, the home
    directory or any absolute input path."""
    candidates = {str(Path.cwd().resolve()), str(Path.home())}
    candidates |= {str(Path(p).resolve()) for p in extra_paths}
    for path in sorted(candidates, key=len, reverse=True):
        if len(path) > 1 and path in text:
            raise InputError(f"the rendered card would contain the local path '{path}'",
                             field=f"card.{checkpoint}")


def render_card(checkpoint: str, inputs: CardInputs, settings: CardSettings, ctx: Context, *,
                template: str | os.PathLike | None = None, metrics_dir: str = "metrics",
                data_dir: str = "data") -> str:
    """The full text of one card (front matter + body), checked, not yet written."""
    import jinja2

    if checkpoint not in RELEASED:
        raise InputError(f"cards exist for {', '.join(RELEASED)}, not '{checkpoint}'", field="checkpoint")
    tpl_path = Path(template) if template else template_path()
    if not tpl_path.is_file():
        raise InputError("card template not found", file=str(tpl_path))
    tpl = load_template(tpl_path)
    facts = card_facts(checkpoint, inputs, settings, ctx, metrics_file=metrics_dir)
    data = card_data(facts, inputs, settings, ctx, metrics_file=metrics_dir)
    try:
        text = tpl.render(card_data=data.to_yaml(), **facts)
    except jinja2.UndefinedError as exc:
        raise InputError(f"template uses an unknown value: {exc.message}", file=str(tpl_path)) from None
    text = text.rstrip("\n") + "\n"
    _leak_guard(text, checkpoint, [metrics_dir, data_dir, str(tpl_path.parent)])
    validate_card_text(text, file=f"<rendered {checkpoint} card>")
    return text


DATASET_CARD = "dataset"   # OUT_DIR/dataset/README.md
# What the card stage writes in OUT_DIR; nothing else there is touched.
CARD_FILES = tuple(f"{name}/README.md" for name in (*RELEASED, DATASET_CARD)) + tuple(
    f"{name}/.eval_results/{EVAL_RESULTS_FILE}" for name in RELEASED)


def render_report(inputs: CardInputs, settings: CardSettings, ctx: Context,
                  out_dir: str | os.PathLike, summary_path: str | os.PathLike,
                  plots_dir: str | os.PathLike, *, template: str | os.PathLike | None = None,
                  metrics_dir: str = "metrics", data_dir: str = "data",
                  trust_plots_dir: str | os.PathLike | None = None):
    """The card stage's StageResult: both model cards and their `.eval_results` files, the
    dataset card, the metrics summary and the confusion view's data
    (PLOTS_DIR/<checkpoint>.json), and with TRUST_PLOTS_DIR the reliability and
    coverage-agreement data of the primary set (TRUST_PLOTS_DIR/{reliability,coverage}_
    <checkpoint>.json; docs/trust.md), for one write that replaces them all together."""
    from bias_judge.card import summary
    from bias_judge.card.dataset import render_dataset_card

    texts = {Path(out_dir) / c / "README.md": render_card(
        c, inputs, settings, ctx, template=template, metrics_dir=metrics_dir, data_dir=data_dir)
        for c in RELEASED}
    dataset_text = render_dataset_card(
        inputs, settings.repo_ids["dataset"], settings.dataset_license, labeler=ctx.labeler,
        ood_category=ctx.ood_category, data_ctx=ctx.data)
    _leak_guard(dataset_text, DATASET_CARD, [metrics_dir, data_dir])
    texts[Path(out_dir) / DATASET_CARD / "README.md"] = dataset_text
    primary = primary_set(inputs, settings)
    names = sorted(set().union(*(inputs.evals[c].keys() for c in CHECKPOINTS)))
    for c in RELEASED:
        # the Hub's .eval_results file beside the card (card/eval_results.py)
        entries = eval_result_entries(inputs, settings, ctx, c,
                                      [primary] + [n for n in names if n != primary])
        texts[Path(out_dir) / c / ".eval_results" / EVAL_RESULTS_FILE] = \
            eval_results_text(entries)
    primary_sets = {c: inputs.evals[c][primary] for c in CHECKPOINTS}
    documents = {Path(summary_path): (summary.metrics_summary(primary_sets), "metrics_summary")}
    for c in CHECKPOINTS:
        documents[Path(plots_dir) / f"{c}.json"] = (summary.confusion_records(primary_sets[c]), None)
        if trust_plots_dir is not None:
            curves = primary_sets[c].probability_curves or {}
            for kind, key in (("reliability", "reliability"), ("coverage", "coverage_agreement")):
                points = [{"checkpoint": c, **point} for point in curves.get(key, [])
                          if kind == "coverage" or point.get("n")]
                documents[Path(trust_plots_dir) / f"{kind}_{c}.json"] = (points, None)
    from bias_judge.core.artifacts import Output, StageResult

    outputs = [Output(path, text, None) for path, text in texts.items()]
    outputs += [Output(path, obj, schema) for path, (obj, schema) in documents.items()]
    return StageResult(outputs=outputs, summary=(
        f"{len(outputs)} files: the model and dataset cards -> {out_dir}, {summary_path}, the "
        f"confusion view -> {plots_dir}"
        + (f", calibration and abstention -> {trust_plots_dir}" if trust_plots_dir else "")))
