"""Where a run's data and base weights came from, as the cards state it.

Everything here is read from what the run recorded: the ingest sidecar says whether the
questions were the embedded items, upstream BBQ at its pinned commit (every file's git blob
id checked) or neither; the pairs sidecar holds the checksum of an imported pairs file, which
names the published dataset only when it equals that dataset's pin; the base model summary
says whether the weights came from the Hub, a folder or a GGUF file. A card claims a dataset
id only where one of these proves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from bias_judge.card.sections import fmt_str, is_hub_id, public_text
from bias_judge.data import fetch_bbq, fetch_pairs

# Licences the cards can state without being told: the project's own items ship under the
# project's licence, BBQ under CC-BY-4.0, the published pairs under Apache-2.0 (docs/data-formats.md#the-published-pairs).
EMBEDDED_LICENSE = "apache-2.0"
BBQ_LICENSE = "cc-by-4.0"
HUB_PAIRS_LICENSE = "apache-2.0"

BBQ_URL = f"https://github.com/{fetch_bbq.BBQ_REPO}"


@dataclass(frozen=True)
class DataContext:
    """The params the provenance quotes (the stages that made the data read them)."""
    pairs_source: str               # pairs.source: build | import
    pairs_import_file: str | None   # pairs.import_file
    generator: str                  # candidates.generator: llm | template
    generator_models: tuple[str, ...]  # candidates.llm.models


@dataclass
class DataSource:
    kind: str                 # embedded | bbq | unverified | unrecorded | imported
    lines: list[str]          # Markdown sentences for the cards' data sections
    dataset_ids: list[str] = field(default_factory=list)  # hub datasets the run provably used
    license: str | None = None  # the data's licence where the source settles it
    bbq_data: bool = False    # the questions are BBQ's own (cite it as the data, not the design)


def _short(commit: str) -> str:
    return commit[:7]


def _pinned_pairs_file(sha256: str | None) -> str | None:
    """The published dataset's file name whose pin this checksum equals."""
    for local, (remote, pinned) in sorted(fetch_pairs.FILES.items()):
        if sha256 == pinned:
            return remote
    return None


def _questions(bbq_meta: dict | None) -> DataSource:
    source = (bbq_meta or {}).get("source")
    if not isinstance(source, dict):
        return DataSource("unrecorded", [
            "**Questions:** not recorded (the ingest sidecar `data/bbq.meta.json` with its "
            "`source` was not available when this card was rendered)."])
    kind, files = source.get("kind"), source.get("files")
    if kind == fetch_bbq.EMBEDDED:
        return DataSource(kind, [
            f"**Questions:** the project's own embedded BBQ-format items ({files} category "
            f"files shipped in `bias_judge/embedded/bbq`). They follow BBQ's file format and "
            f"item design but were written for this project: **they are not BBQ data**, and "
            f"numbers on them say nothing about BBQ itself."], license=EMBEDDED_LICENSE)
    commit = source.get("commit", "")
    repo_link = f"[`{fetch_bbq.BBQ_REPO}`]({BBQ_URL})"
    if kind == fetch_bbq.UPSTREAM:
        return DataSource(kind, [
            f"**Questions:** BBQ (Parrish et al., 2022): {files} of the {source.get('of')} "
            f"category files of {repo_link} at commit `{_short(commit)}`, each checked against "
            f"its git blob id at that commit."], license=BBQ_LICENSE, bbq_data=True)
    matched = source.get("matched", 0)
    return DataSource("unverified", [
        f"**Questions:** BBQ-format files that are neither the embedded items nor upstream BBQ: "
        f"{matched} of the {files} files equal their upstream file at {repo_link} commit "
        f"`{_short(commit)}`, the other {files - matched} do not (subsets or edits). Their "
        f"SHA-256 checksums are in `data/bbq.meta.json`."])


def _responses(ctx: DataContext) -> str:
    if ctx.generator == "template":
        return ("**Responses:** written by the `template` generator from fixed answer styles "
                "(deterministic text, not model outputs), one per style and question.")
    if ctx.generator == "llm":
        models = ["the base model" if m == "models/base" else f"`{fmt_str(m)}`"
                  for m in ctx.generator_models]
        who = models[0] if len(models) == 1 else ", ".join(models[:-1]) + " and " + models[-1]
        return (f"**Responses:** sampled from {who} by the `llm` generator, several answers per "
                f"question.")
    return f"**Responses:** from the `{fmt_str(ctx.generator)}` generator."


def data_source(bbq_meta: dict | None, pairs_meta: dict | None, ctx: DataContext) -> DataSource:
    """What the judge's pairs were built from, in the cards' words."""
    if ctx.pairs_source == "import":
        inputs = (pairs_meta or {}).get("inputs") or {}
        sha = next(iter(inputs.values()), None) if len(inputs) == 1 else None
        name = PurePath(str(ctx.pairs_import_file or next(iter(inputs), "?"))).name
        checksum = f"SHA-256 `{sha}`" if sha else "checksum not recorded"
        published = _pinned_pairs_file(sha)
        if published:
            ds = fetch_pairs.DATASET_ID
            return DataSource("imported", [
                f"**Pairs:** imported from `{fmt_str(name)}` ({checksum}), byte for byte the "
                f"`{published}` of the published dataset [`{ds}`](https://huggingface.co/datasets/{ds}): "
                f"BBQ questions answered by four open 7-8B chat models (Llama 3 / 3.1 8B, Mistral 7B, "
                f"Qwen 2.5 7B), paired into the five buckets."],
                dataset_ids=[ds], license=HUB_PAIRS_LICENSE)
        return DataSource("imported", [
            f"**Pairs:** imported from `{fmt_str(public_text(name))}` ({checksum}); the file "
            f"matches no pinned published file, so where its questions and responses came from "
            f"is not recorded here."])
    source = _questions(bbq_meta)
    source.lines += [
        _responses(ctx),
        "Each response is classified by the answer it chose (the stereotype-aligned one, the "
        "correct one, or another wrong one), and responses to the same question are paired into "
        "five kinds of pairs (buckets)."]
    return source


def base_format(bm: dict, hub_id: str | None) -> str:
    """Where the base weights came from and in what form, in one sentence fragment."""
    kind = bm.get("kind")
    dtype = fmt_str(bm.get("dtype"))
    upstream = f"[`{hub_id}`](https://huggingface.co/{hub_id})" if hub_id else None
    if kind == "gguf":
        gguf = bm.get("gguf") if isinstance(bm.get("gguf"), dict) else None
        if gguf:
            quant = gguf.get("quantization")
            what = f"the GGUF file `{fmt_str(gguf.get('file'))}`" + (
                f" ({quant} quantisation)" if quant else " (quantisation not recorded)")
        else:
            what = f"a GGUF file (recorded as \"{fmt_str(bm.get('source'))}\")"
        of = f" of {upstream}" if upstream else ""
        return (f"{what}{of}, dequantised to {dtype} safetensors; the weights keep the "
                f"quantisation's rounding, so they are not the original full-precision weights")
    if kind == "hub":
        return f"{upstream or fmt_str(bm.get('source'))}, downloaded from the Hugging Face Hub ({dtype})"
    if kind == "folder":
        return f"a local model folder (`{fmt_str(bm.get('source'))}`, {dtype})"
    if kind == "tiny":
        return "a tiny random-initialised test model: no pretrained weights, nothing to learn from"
    return fmt_str(bm.get("source"))


def own_dataset_id(repo_ids: dict[str, str], is_placeholder) -> str | None:
    """The hub id the pipeline's own pairs are published under, unless it is a placeholder."""
    rid = repo_ids.get("dataset")
    return rid if is_hub_id(rid) and not is_placeholder(rid) else None


def eval_dataset(set_name: str, eval_file: dict | None, source: DataSource,
                 own_id: str | None) -> str | None:
    """The hub dataset an eval set provably comes from: the published holdout when its file's
    checksum equals the pin; the split's pairs come from wherever the pairs came from."""
    if eval_file and _pinned_pairs_file(eval_file.get("sha256")):
        return fetch_pairs.DATASET_ID
    if set_name == "split":
        return source.dataset_ids[0] if source.dataset_ids else own_id
    return None
