"""The Hub's `.eval_results/` file of a released checkpoint, beside the card's model-index.

The format is the one the Hub documents at https://huggingface.co/docs/hub/eval-results: a
YAML list in `.eval_results/<name>.yaml` of the model repo, one entry per score, each naming
a Hub dataset (`dataset.id`, and a `task_id` within it), the `value`, and optionally the
`source` and `notes`. huggingface_hub's EvalResultEntry writes the entries; the file is held
against schemas/eval_results.schema.json before it is written, and `publish` uploads it.

Only eval sets that provably come from a Hub dataset get entries (the published holdout by
its checksum, the split by where its pairs came from; card/provenance.py): a score is never
attributed to a dataset it was not measured on. With none, the list is empty.
"""

from __future__ import annotations

from bias_judge.card import provenance, sections
from bias_judge.card.headline import BY_KEY

FILE_NAME = "bias-judge.yaml"   # .eval_results/<FILE_NAME> in the model repo
# (metrics-file section, key, what the score is): the greedy protocol's headline κ and the
# averaged-probability protocol's κ and calibration.
SCORES = (
    (None, "kappa_in_dist", "greedy verdict, original order (published protocol)"),
    (None, "kappa_ood", "greedy verdict, original order (published protocol)"),
    ("probability", "kappa_in_dist", "averaged verdict probabilities of both orders"),
    ("probability", "ece", "expected calibration error of the averaged probabilities"),
)


def eval_result_entries(inputs, settings, ctx, checkpoint: str, sets: list[str]) -> list[dict]:
    """The `.eval_results` entries of one checkpoint as YAML-ready dicts."""
    from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml

    source = provenance.data_source(inputs.bbq_meta, inputs.pairs_meta, ctx.data)
    own = provenance.own_dataset_id(settings.repo_ids, sections.is_placeholder)
    repo_id = settings.repo_ids.get(checkpoint, "")
    url = None if sections.is_placeholder(repo_id) else f"https://huggingface.co/{repo_id}"
    entries = []
    for set_name in sets:
        m = inputs.evals[checkpoint].get(set_name)
        if m is None:
            continue
        dataset = provenance.eval_dataset(set_name, m.eval_file, source, own)
        if dataset is None:
            continue
        for section, key, what in SCORES:
            values = m.headline if section is None else (m.probability or {})
            measured = values.get(key)
            if measured is None or not measured.present:
                continue
            label = BY_KEY[key].label if section is None and key in BY_KEY else key
            entries.append(EvalResultEntry(
                dataset_id=dataset, task_id=f"{set_name}-{key}"
                if section is None else f"{set_name}-probability-{key}",
                value=round(float(measured.value), 4),
                source_url=url, source_name="bias-judge evaluate stage" if url else None,
                notes=f"{label}; {what}; n={measured.n}"))
    return eval_result_entries_to_yaml(entries)


def eval_results_text(entries: list[dict]) -> str:
    import yaml

    from bias_judge.core.errors import InputError
    from bias_judge.core.schema import first_error, validator_for

    err = first_error(validator_for("eval_results"), entries)
    if err is not None:
        raise InputError(f"fails schema eval_results: {err[1]}", file=f".eval_results/{FILE_NAME}",
                         field=err[0])
    return yaml.safe_dump(entries, sort_keys=False, allow_unicode=True)
