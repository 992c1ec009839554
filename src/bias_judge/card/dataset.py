"""The dataset card of the pipeline's data: the judge pairs, the eval split, the labels and
the SFT / DPO rows, as `bias-judge publish --dataset` uploads them.

Front matter through huggingface_hub's DatasetCardData, in the Hub's dataset-card
conventions (licence, task, size category, one config per file); the body through
model_card/dataset.md.j2. Counts come from the data sidecars, provenance from
`card.provenance`, so the dataset card and the model cards describe the data in the same words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bias_judge.card import provenance, sections
from bias_judge.card.inputs import CardInputs
from bias_judge.card.jinja import load_template
from bias_judge.core.errors import InputError


@dataclass(frozen=True)
class DataFile:
    config: str        # config name on the Hub
    path: str          # path in the dataset repo, and under the pipeline's data folder
    split: str         # the split name `load_dataset` gives it
    what: str          # one line for the card


# The files `publish --dataset` uploads, in this order, each its own config.
FILES: tuple[DataFile, ...] = (
    DataFile("pairs", "pairs.jsonl", "train",
             "every judge pair: a question, its three answer choices and two responses, with "
             "the bucket (`pair_category`) and each response's suspected bias level"),
    DataFile("eval", "split/eval.jsonl", "eval",
             "the eval split: an in-distribution slice and the held-out category's slice "
             "(`eval_slice`), with the rule-derived gold verdict"),
    DataFile("train", "split/train.jsonl", "train",
             "the training pool: every pair not in the eval split, held-out category excluded"),
    DataFile("labels", "labels.jsonl", "train",
             "the training pool labelled: verdict, reasoning and confidence for each pair"),
    DataFile("sft", "rows/sft.jsonl", "train",
             "SFT rows: the judge prompt and the labelled reply, each pair in both response orders"),
    DataFile("dpo", "rows/dpo.jsonl", "train",
             "DPO rows: the prompt, the labelled reply (chosen) and a reply with a wrong verdict "
             "(rejected), each pair in both response orders"),
)

TAGS = ["bias", "social-bias", "llm-as-judge", "bbq", "preference", "synthetic"]
SIZE_BUCKETS = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                (1_000_000, "100K<n<1M"))


def template_path() -> Path:
    return Path(str(resources.files("bias_judge.model_card").joinpath("dataset.md.j2")))


def size_category(n: int) -> str:
    for bound, name in SIZE_BUCKETS:
        if n < bound:
            return name
    return "n>1M"


def _rows(meta: dict | None) -> int | None:
    rows = (meta or {}).get("rows")
    return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


def _count(meta: dict | None, key: str) -> int | None:
    value = ((meta or {}).get("counts") or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def file_rows(inputs: CardInputs) -> dict[str, int | None]:
    """Rows per file, from the sidecars (None where a sidecar is missing)."""
    return {
        "pairs": _rows(inputs.pairs_meta),
        "eval": _count(inputs.split_meta, "eval"),
        "train": _count(inputs.split_meta, "train"),
        "labels": _rows(inputs.labels_meta),
        "sft": _count(inputs.rows_meta, "sft_rows"),
        "dpo": _count(inputs.rows_meta, "dpo_rows"),
    }


def dataset_license(source: provenance.DataSource, configured: str | None) -> str:
    if configured:
        return configured
    if source.license:
        return source.license
    raise InputError("the licence of the pipeline's data does not follow from its source "
                     "(imported pairs that match no pinned published file, or unverified BBQ "
                     "files): set it", field="card.dataset_license")


def dataset_facts(inputs: CardInputs, repo_id: str, configured_license: str | None,
                  labeler: str, ood_category: str, data_ctx: provenance.DataContext) -> dict:
    source = provenance.data_source(inputs.bbq_meta, inputs.pairs_meta, data_ctx)
    rows = file_rows(inputs)
    published = not sections.is_placeholder(repo_id)
    return {
        "repo_id": repo_id,
        "published": published,
        "license": dataset_license(source, configured_license),
        "data_lines": source.lines,
        "bbq_data": source.bbq_data,
        "source_datasets": source.dataset_ids,
        "files": [{"config": f.config, "path": f.path, "split": f.split, "what": f.what,
                   "rows": sections.fmt_int(rows[f.config])} for f in FILES],
        "pairs": rows["pairs"],
        "buckets": sections.bucket_counts(inputs.pairs_meta),
        "labeler": labeler,
        "ood": ood_category,
        "labels_counts": sections.scalar_counts(inputs.labels_meta),
        "rows_counts": sections.scalar_counts(inputs.rows_meta),
    }


def dataset_card_data(facts: dict):
    from huggingface_hub import DatasetCardData

    extra = {"size_categories": [size_category(facts["pairs"])]} if facts["pairs"] else {}
    return DatasetCardData(
        license=facts["license"],
        language="en",
        task_categories=["text-classification"],
        pretty_name="BBQ-style social-bias judge pairs",
        tags=TAGS,
        source_datasets=facts["source_datasets"] or None,
        configs=[{"config_name": f["config"], "data_files": [{"split": f["split"], "path": f["path"]}]}
                 for f in facts["files"]],
        **extra,
    )


def render_dataset_card(inputs: CardInputs, repo_id: str, configured_license: str | None, *,
                        labeler: str, ood_category: str, data_ctx: provenance.DataContext,
                        template: str | os.PathLike | None = None) -> str:
    from bias_judge.card.validate import validate_dataset_card_text

    tpl_path = Path(template) if template else template_path()
    tpl = load_template(tpl_path)
    facts = dataset_facts(inputs, repo_id, configured_license, labeler, ood_category, data_ctx)
    text = tpl.render(card_data=dataset_card_data(facts).to_yaml(), **facts).rstrip("\n") + "\n"
    validate_dataset_card_text(text, file="<rendered dataset card>")
    return text
