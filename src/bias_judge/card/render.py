"""Rendering the model cards: front matter through huggingface_hub's ModelCardData /
EvalResult, body through the project's Jinja template, both from the pipeline's numbers.

The released checkpoints are the merged models (full weights, loadable without peft), so the
front matter says `library_name: transformers` and `base_model_relation: finetune`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import InputError
from ..jsonio import atomic_open
from . import recommend, sections
from .formatting import format_cell, md_escape, round3
from .inputs import CardInputs
from .metrics import BY_KEY, CHECKPOINTS, COLUMN_LABELS, METRIC_KEYS, METRICS, MISSING, RELEASED
from .validate import validate_card_text

TASK_TYPE = "text-classification"
TASK_NAME = "Social-bias judge (A / B / TIE verdict)"
SPLIT_SET = "split"


@dataclass
class CardSettings:
    """The `card` params section, with the defaults used when no params file is given."""
    repo_ids: dict[str, str] = field(default_factory=lambda: {
        "dpo": "your-hf-name/bias-judge", "sft": "your-hf-name/bias-judge-sft"})
    base_model: str | None = None
    license: str | None = None
    datasets: list[str] = field(default_factory=lambda: ["heegyu/bbq"])
    eval_dataset_ids: dict[str, str] = field(default_factory=dict)
    primary_set: str | None = None
    headline_metrics: list[str] = field(default_factory=lambda: list(METRIC_KEYS))
    extra_tags: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, section: dict | None) -> "CardSettings":
        return cls(**(section or {}))


@dataclass
class Context:
    """What the card needs from other params sections (all optional)."""
    ood_category: str | None = None
    labeler: str | None = None
    max_new_tokens: int = 1024
    max_model_len: int = 4096
    prompt_style: str = "published"
    guided: bool = False


def template_path() -> Path:
    return Path(str(resources.files("bias_judge.model_card").joinpath("card.md.j2")))


# --- pieces ---------------------------------------------------------------------------

def _ood_name(inputs: CardInputs, ctx: Context) -> str:
    if ctx.ood_category:
        return ctx.ood_category
    params = (inputs.split_meta or {}).get("params") or {}
    return params.get("ood_category") or "the held-out category"


def _set_order(inputs: CardInputs, settings: CardSettings) -> list[str]:
    """Eval sets in display order: the primary one first, then the rest by name."""
    names = sorted(set().union(*(inputs.evals[c].keys() for c in CHECKPOINTS)))
    primary = primary_set(inputs, settings)
    return [primary] + [n for n in names if n != primary]


def primary_set(inputs: CardInputs, settings: CardSettings) -> str:
    """The set the advice is based on: the configured one, else a human-labelled set that all
    three checkpoints were evaluated on (human gold beats rule gold), else the split."""
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
    if not common:
        raise InputError("the three eval metrics files share no eval set", field="sets")
    return sorted(common)[0]


def _dataset(set_name: str, settings: CardSettings) -> dict:
    dataset_type = settings.eval_dataset_ids.get(set_name, settings.datasets[0])
    if set_name == SPLIT_SET:
        name = "BBQ judge pairs: the pipeline's eval split (rule-derived gold)"
    else:
        name = f"BBQ judge pairs: {set_name} (human-labelled gold)"
    return {"type": dataset_type, "name": name, "config": set_name, "split": "eval"}


def _set_description(set_name: str, ood: str) -> str:
    if set_name == SPLIT_SET:
        return (f"The pipeline's own eval split: an in-distribution slice from the trained "
                f"categories and a slice from the held-out category ({ood}). Gold verdicts "
                f"follow from the rule-based classification of each response, so these numbers "
                f"measure agreement with the rule teacher.")
    return (f"Human-labelled pairs in the published holdout format (`{set_name}`); gold verdicts "
            f"are the human labels.")


def _unit_words(unit: str) -> str:
    if unit == "whitespace":
        return "words (whitespace-separated)"
    return f"tokens of the judge's tokenizer (`{md_escape(sections.public_text(unit))}`)"


def _verbosity_unit(per_ckpt: dict) -> str:
    """What the verbosity row counts, as recorded by the metrics stage."""
    units = {c: p.verbosity_unit for c, p in per_ckpt.items() if p is not None and p.verbosity_unit}
    if not units:
        return "tokens (the counting unit was not recorded)"
    if len(set(units.values())) == 1:
        return _unit_words(next(iter(units.values())))
    return "; ".join(f"{COLUMN_LABELS[c]}: {_unit_words(u)}" for c, u in units.items())


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


def _tags(checkpoint: str, settings: CardSettings, architecture) -> list[str]:
    tags = ["bias", "social-bias", "llm-as-judge", "judge", "bbq", "lora", "sft"]
    if checkpoint == "dpo":
        tags.append("dpo")
    if isinstance(architecture, str) and "gemma" in architecture.lower():
        tags.append("gemma")
    for t in settings.extra_tags:
        if t not in tags:
            tags.append(t)
    return tags


def build_card_data(checkpoint: str, inputs: CardInputs, settings: CardSettings,
                    metrics_file: str = "metrics"):
    """The front matter: licence, base model, tags, datasets and the model-index."""
    from huggingface_hub import EvalResult, ModelCardData

    eval_results = []
    for set_name in _set_order(inputs, settings):
        set_metrics = inputs.evals[checkpoint].get(set_name)
        if set_metrics is None:
            continue
        ds = _dataset(set_name, settings)
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
    base_id = _base_model_id(inputs, settings)
    kwargs = {}
    if base_id:
        kwargs = {"base_model": base_id, "base_model_relation": "finetune"}
    return ModelCardData(
        model_name=_model_name(settings.repo_ids[checkpoint]),
        license=_license(inputs, settings, f"{metrics_file}/base_model.json"),
        language="en",
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=_tags(checkpoint, settings, inputs.base_model.get("architecture")),
        datasets=list(settings.datasets),
        eval_results=eval_results,
        **kwargs,
    )


def eval_tables(inputs: CardInputs, settings: CardSettings, ood: str) -> list[dict]:
    tables = []
    for set_name in _set_order(inputs, settings):
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
        tables.append({
            "name": md_escape(set_name),
            "description": _set_description(set_name, ood),
            "verbosity_unit": _verbosity_unit(per_ckpt),
            "n_pairs": [sections.fmt_int(per_ckpt[c].n_pairs) if per_ckpt[c] else "—"
                        for c in CHECKPOINTS],
            "rows": rows,
            "category_rows": cat_rows,
            "wins": recommend.wins_table(measured),
        })
    return tables


def _limitations(checkpoint: str, inputs: CardInputs, settings: CardSettings, ood: str,
                 thinking: bool) -> list[str]:
    primary = primary_set(inputs, settings)
    headline = inputs.evals[checkpoint][primary].headline
    X = COLUMN_LABELS[checkpoint]
    out = [
        "The judge compares two responses to the same BBQ question and names the more "
        "stereotype-reliant one (or TIE). It does not score a single text, and its verdict is "
        "not an absolute measure of bias.",
        "Scope is BBQ's English, US-centred templates and its eleven social categories; "
        "questions of other shapes, languages or kinds of bias (political, factual "
        "cherry-picking, tone) are outside what it was trained or tested on.",
        f"Only one category ({ood}) was held out, so the out-of-distribution numbers describe "
        f"one unseen category, not unseen categories in general.",
    ]
    if SPLIT_SET in inputs.evals[checkpoint]:
        out.append("On the eval split the gold verdicts are derived by rule from the answer each "
                   "response chose; they can be wrong where a response's reasoning and its "
                   "chosen letter disagree.")
    lean = recommend.sign_word(headline["verbosity_bias"])
    if lean in ("longer", "shorter"):
        out.append(f"On the `{primary}` set {X} tends to name the {lean} of the two responses as "
                   f"the more biased one (see the verbosity row); do not read its verdicts as "
                   f"independent of length.")
    pb = headline["position_bias_in_dist"]
    if pb.present:
        out.append("Its verdict can change when the two responses swap places (see the position "
                   "bias rows): judge both orders and keep only verdicts that agree after "
                   "mapping A↔B back.")
    pf = headline["parse_failure_rate"]
    if pf.present and pf.value > 0:
        out.append("Some replies miss the trained format (see the parse-failure row): count a "
                   "reply without a verdict as no verdict rather than guessing one.")
    params = inputs.base_model.get("parameters")
    if isinstance(params, (int, float)) and not isinstance(params, bool) and params < 1e9:
        out.append(f"The base model is small ({sections.fmt_params(params)} parameters); its "
                   f"reasoning text is short and can be wrong even when the verdict is right.")
    if thinking:
        out.append("The base model has a thinking mode that was off in training; turning it on "
                   "at inference time is untested and breaks the reply format.")
    out.append("Not for decisions about real people: it is a research tool for auditing model "
               "outputs, with the error rates shown above.")
    return out


def _bibtex_project(repo_id: str) -> str:
    key = _model_name(repo_id).replace("-", "_")
    return (
        f"@misc{{{key},\n"
        f"  title        = {{{{{_model_name(repo_id)}}}: a social-bias judge trained with SFT and DPO on BBQ-derived pairs}},\n"
        f"  howpublished = {{\\url{{https://huggingface.co/{repo_id}}}}},\n"
        f"  note         = {{Built with the bias-judge pipeline; card generated from the pipeline's metrics}}\n"
        f"}}"
    )


BBQ_BIBTEX = """@inproceedings{parrish-etal-2022-bbq,
  title     = {{BBQ}: A Hand-Built Bias Benchmark for Question Answering},
  author    = {Parrish, Alicia and Chen, Angelica and Nangia, Nikita and Padmakumar, Vishakh and
               Phang, Jason and Thompson, Jana and Htut, Phu Mon and Bowman, Samuel},
  booktitle = {Findings of the Association for Computational Linguistics: ACL 2022},
  year      = {2022},
  pages     = {2086--2105},
  publisher = {Association for Computational Linguistics},
  url       = {https://aclanthology.org/2022.findings-acl.165}
}"""


def _labeler_text(labeler: str | None) -> str:
    if labeler == "rule":
        return ("the rule teacher: each pair's verdict follows from the classification of the "
                "answer each response chose (biased / correct / other wrong answer)")
    if labeler == "import":
        return "imported labels (frontier-model labelling files in the published format)"
    return "not recorded in the params"


def card_context(checkpoint: str, inputs: CardInputs, settings: CardSettings, ctx: Context,
                 *, metrics_file: str = "metrics") -> dict:
    from .. import prompt

    other = "sft" if checkpoint == "dpo" else "dpo"
    ood = _ood_name(inputs, ctx)
    bm = inputs.base_model
    thinking = bool(bm.get("has_thinking_mode"))
    arch = bm.get("architecture")
    primary = primary_set(inputs, settings)
    primary_metrics = {c: inputs.evals[c][primary].headline for c in CHECKPOINTS}
    stages = ["sft"] if checkpoint == "sft" else ["sft", "dpo"]
    slices, slice_rows = sections.slice_bucket_rows(inputs.split_meta)
    buckets = sections.bucket_counts(inputs.pairs_meta)
    categories = sections.category_counts(inputs.pairs_meta, inputs.split_meta)
    if categories is None:
        names = set()
        for sets in inputs.evals.values():
            for sm in sets.values():
                names |= set(sm.per_category)
        categories = {c: None for c in sorted(names)} or None
    base_id = _base_model_id(inputs, settings)
    return {
        "checkpoint": checkpoint,
        "label": COLUMN_LABELS[checkpoint],
        "other_label": COLUMN_LABELS[other],
        "is_primary": checkpoint == RELEASED[0],
        "repo_id": settings.repo_ids[checkpoint],
        "other_repo_id": settings.repo_ids[other],
        "model_name": _model_name(settings.repo_ids[checkpoint]),
        "base": {
            "hub_id": base_id,
            "display": base_id or sections.fmt_str(bm.get("source")),
            "kind": sections.fmt_str(bm.get("kind")),
            "architecture": sections.fmt_str(arch),
            "parameters": sections.fmt_params(bm.get("parameters")),
            "dtype": sections.fmt_str(bm.get("dtype")),
            "license": _license(inputs, settings, f"{metrics_file}/base_model.json"),
            "is_gemma": isinstance(arch, str) and "gemma" in arch.lower(),
        },
        "thinking": thinking,
        "system_prompt_literal": sections.py_string_literal(prompt.PROMPT_STYLES[ctx.prompt_style][0]),
        "user_template_literal": sections.py_string_literal(sections.user_template(
            lambda pair, swapped: prompt.build_messages(pair, swapped, style=ctx.prompt_style))),
        "verdict_regex_literal": _raw_literal(prompt.VERDICT_RE.pattern),
        "max_new_tokens": ctx.max_new_tokens,
        "guided": ctx.guided,
        "max_model_len": ctx.max_model_len,
        "columns": [COLUMN_LABELS[c] for c in CHECKPOINTS],
        "tables": eval_tables(inputs, settings, ood),
        "primary_set": md_escape(primary),
        "choose": recommend.choose_text(checkpoint, other, primary_metrics, ood_name=ood),
        "train_columns": [COLUMN_LABELS[s] if s == "sft" else "DPO" for s in stages],
        "train_rows": sections.training_rows(inputs.train, stages),
        "ood": md_escape(ood),
        "categories": categories,
        "buckets": buckets,
        "split_counts": sections.scalar_counts(inputs.split_meta),
        "rows_counts": sections.scalar_counts(inputs.rows_meta),
        "slice_columns": slices,
        "slice_rows": slice_rows,
        "labeler": _labeler_text(ctx.labeler),
        "gold": sections.gold_quality(inputs.gold_quality, file=f"{metrics_file}/gold_quality.json"),
        "limitations": _limitations(checkpoint, inputs, settings, ood, thinking),
        "bibtex_project": _bibtex_project(settings.repo_ids[RELEASED[0]]),
        "bibtex_bbq": BBQ_BIBTEX,
    }


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
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    try:
        tpl = env.from_string(tpl_path.read_text(encoding="utf-8"))
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template syntax error: {exc.message}", file=str(tpl_path),
                         line=exc.lineno) from None
    data = build_card_data(checkpoint, inputs, settings, metrics_file=metrics_dir)
    body_ctx = card_context(checkpoint, inputs, settings, ctx, metrics_file=metrics_dir)
    try:
        text = tpl.render(card_data=data.to_yaml(), **body_ctx)
    except jinja2.UndefinedError as exc:
        raise InputError(f"template uses an unknown value: {exc.message}", file=str(tpl_path)) from None
    text = text.rstrip("\n") + "\n"
    _leak_guard(text, checkpoint, [metrics_dir, data_dir, str(tpl_path.parent)])
    validate_card_text(text, file=f"<rendered {checkpoint} card>")
    return text


def render_cards(inputs: CardInputs, settings: CardSettings, ctx: Context, out_dir: str | os.PathLike,
                 *, template: str | os.PathLike | None = None, metrics_dir: str = "metrics",
                 data_dir: str = "data") -> list[Path]:
    """Render every released checkpoint's card, then write them (all or none on error)."""
    texts = {c: render_card(c, inputs, settings, ctx, template=template, metrics_dir=metrics_dir,
                            data_dir=data_dir) for c in RELEASED}
    written = []
    for ckpt, text in texts.items():
        path = Path(out_dir) / ckpt / "README.md"
        with atomic_open(path) as fh:
            fh.write(text)
        written.append(path)
    return written
