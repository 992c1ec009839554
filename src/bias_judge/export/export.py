"""The export of one merged checkpoint for llama.cpp and Ollama: a GGUF file per requested
quantisation, a Modelfile for the first of them, a short README and a manifest (schema
`gguf_export`: every file's size and sha256). The folder is built beside its final place and
renamed into it, so a failed export leaves no half-written GGUF."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

from pydantic import Field

from bias_judge.core.settings import Section, one_of, unique_list
from bias_judge.export.gguf_file import QUANTIZATIONS
from pathlib import Path

from bias_judge.core.jsonio import read_json, sha256_file, write_json
from bias_judge.data.prompt import PROMPT_STYLES
from bias_judge.export.gguf_file import adds_special_tokens, write_gguf
from bias_judge.export.modelfile import modelfile_text, ollama_template
from bias_judge.models.folder import check_model_folder, load_tokenizer

MANIFEST = "export.json"


class ExportSettings(Section):
    """params section `export`: each merged checkpoint as GGUF for llama.cpp and Ollama."""
    quantizations: unique_list(one_of(QUANTIZATIONS)) = Field(description=(
        "GGUF types to write (what the gguf package can quantise: no K-quants), the first one "
        "the Modelfile's; [] writes no GGUF (models the converter does not cover)"))


@dataclass(frozen=True)
class ExportFacts:
    """What the Modelfile and README say besides the weights: decoding, prompt, provenance."""
    max_new_tokens: int
    max_model_len: int
    seed: int
    prompt_style: str
    repo_id: str | None          # the checkpoint's Hub repo (card.repo_ids), None if a placeholder
    base_model: dict             # metrics/base_model.json


def gguf_name(checkpoint: str, quantization: str) -> str:
    return f"bias-judge-{checkpoint}.{quantization.upper()}.gguf"


def stop_tokens(model_dir: Path, tokenizer) -> list[str]:
    from bias_judge.evaluation.inference.base import stop_token_ids

    return [tokenizer.convert_ids_to_tokens(i) for i in stop_token_ids(model_dir, tokenizer)]


def read_facts(base_model_path, *, repo_id: str | None, **settings) -> ExportFacts:
    """The facts from the base model's description (the cards' source for it too); a
    placeholder repo id (`your-hf-name/...`) is not linked. The metrics stay in the model
    card alone: quoting them here would rerun both exports whenever either card changes."""
    from bias_judge.card.sections import is_placeholder

    base = read_json(base_model_path, schema="base_model_metrics")
    return ExportFacts(base_model=base, **settings,
                       repo_id=None if not repo_id or is_placeholder(repo_id) else repo_id)


def readme_text(checkpoint: str, facts: ExportFacts, files: list[dict], skipped: str | None) -> str:
    from bias_judge.card.sections import public_text

    base = public_text(facts.base_model["hub_id"] or facts.base_model["source"])
    where = (f"[{facts.repo_id}](https://huggingface.co/{facts.repo_id})" if facts.repo_id
             else f"the `{checkpoint}` model card (model_card/{checkpoint}/README.md)")
    lines = [
        f"# bias-judge ({checkpoint}), GGUF",
        "",
        f"The {checkpoint} checkpoint of the social-bias judge, fine-tuned from "
        f"{base} "
        f"(licence {facts.base_model['license'] or 'unknown'}), converted for llama.cpp and "
        f"Ollama. Its training, evaluation and fitness for use are in {where}; the "
        "GGUF is the same weights, quantised as listed below.",
        "",
    ]
    if skipped:
        return "\n".join(lines + [f"No GGUF was written: {skipped}.", ""])
    lines += ["| file | type | size | sha256 |", "|---|---|---|---|"]
    lines += [f"| `{f['path']}` | {f.get('quantization', '')} | {f['bytes']:,} B | `{f['sha256'][:16]}…` |"
              for f in files]
    first = next(f for f in files if f["path"].endswith(".gguf"))["path"]
    lines += [
        "",
        "Quantised with the `gguf` Python package (Q8_0 by default; it cannot write K-quants "
        "such as Q5_K_M: run llama.cpp's `llama-quantize` on the file for those).",
        "",
        "## Run it",
        "",
        "```sh",
        "ollama create bias-judge -f Modelfile",
        "ollama run bias-judge \"$(cat my_pair_prompt.txt)\"",
        f"llama-cli -m {first} -sys \"$(cat system.txt)\" --temp 0 -n {facts.max_new_tokens}",
        "```",
        "",
        "The Modelfile carries the judge's system prompt, the chat template, the stop tokens "
        f"and greedy decoding (temperature 0, up to {facts.max_new_tokens} new tokens), the "
        "settings the verdicts in the card were measured with. The user turn is the pair as "
        "`bias-judge judge` formats it: question, answer choices, Response A, Response B, "
        "then the reply instruction.",
        "",
    ]
    return "\n".join(lines)


def export_checkpoint(checkpoint: str, model_dir: str | os.PathLike, out_dir: str | os.PathLike,
                      settings: ExportSettings, facts: ExportFacts):
    """OUT_DIR's contents (GGUF files, Modelfile, README.md, export.json) built complete in a
    temporary folder beside it, as a StageResult whose write puts the folder in place."""
    from bias_judge.core.artifacts import Folder, StageResult

    model_dir, out_dir = check_model_folder(model_dir), Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.monotonic()
    try:
        files, skipped, arch = [], None, None
        if not settings.quantizations:
            skipped = "export.quantizations is empty"
        for q in settings.quantizations:
            name = gguf_name(checkpoint, q)
            info = write_gguf(model_dir, tmp / name, q, name=f"bias-judge-{checkpoint}")
            arch = info["architecture"]
            files.append({"path": name, "quantization": q.upper(),
                          "tensor_types": info["tensor_types"]})
        if files:
            tokenizer = load_tokenizer(model_dir)
            template = ollama_template(tokenizer, adds_bos=adds_special_tokens(model_dir)[0])
            text = modelfile_text(
                files[0]["path"], template, stop_tokens(model_dir, tokenizer),
                PROMPT_STYLES[facts.prompt_style][0],
                {"temperature": 0, "num_predict": facts.max_new_tokens,
                 "num_ctx": facts.max_model_len, "seed": facts.seed})
            (tmp / "Modelfile").write_text(text, encoding="utf-8")
            files.append({"path": "Modelfile"})
        for f in files:
            f["bytes"] = (tmp / f["path"]).stat().st_size
            f["sha256"] = sha256_file(tmp / f["path"])
        (tmp / "README.md").write_text(readme_text(checkpoint, facts, files, skipped),
                                       encoding="utf-8")
        manifest = {"checkpoint": checkpoint, "architecture": arch, "skipped": skipped,
                    "files": files}
        write_json(tmp / MANIFEST, manifest, schema="gguf_export")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.monotonic() - started
    if skipped:
        line = f"no GGUF written ({skipped}); {out_dir}/README.md and {MANIFEST} say so"
    else:
        sizes = ", ".join(f"{f['path']} {f['bytes'] / 2**20:.1f} MiB" for f in files
                          if f["path"].endswith(".gguf"))
        line = f"{sizes}, Modelfile, README.md -> {out_dir} in {seconds:.0f} s"
    return StageResult(outputs=[], folders=[Folder(tmp, out_dir)], summary=line)
