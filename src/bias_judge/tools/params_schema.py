"""schemas/params.schema.json, generated from the params sections' typed models.

Every section model lives beside the code that reads it; this module only lists them in the
order params.yaml has them and writes the JSON Schema pydantic derives from them, which
`core/params.py` then checks every params file against (so an error names the key before any
stage runs). tests/test_params_schema.py fails when the committed file is not what this
module generates.
"""

from __future__ import annotations

import json

from pydantic import create_model

from bias_judge.core.settings import Section

SCHEMA_ID = "https://bias-judge.local/schemas/params.schema.json"


def sections() -> dict[str, type[Section]]:
    """params section -> its model, in params.yaml's order."""
    from bias_judge.card.render import CardSettings
    from bias_judge.data.format_rows import FormatSettings
    from bias_judge.data.generators import CandidateSettings
    from bias_judge.data.ingest import DataSettings
    from bias_judge.data.labelers import LabelSettings
    from bias_judge.data.pairing import PairsSettings
    from bias_judge.data.prompt import PromptSettings
    from bias_judge.data.sampling import SampleSettings
    from bias_judge.data.splitting import SplitSettings
    from bias_judge.evaluation.probes import ProbeSettings
    from bias_judge.evaluation.settings import EvalSettings
    from bias_judge.export.export import ExportSettings
    from bias_judge.models.onpolicy import OnPolicySettings
    from bias_judge.models.settings import DPOSettings, ModelSettings, SFTSettings

    return {"data": DataSettings, "sample": SampleSettings, "candidates": CandidateSettings,
            "pairs": PairsSettings, "split": SplitSettings, "label": LabelSettings,
            "format": FormatSettings, "prompt": PromptSettings, "model": ModelSettings,
            "sft": SFTSettings, "onpolicy": OnPolicySettings, "dpo": DPOSettings,
            "eval": EvalSettings, "probe": ProbeSettings, "card": CardSettings,
            "export": ExportSettings}


def params_model() -> type[Section]:
    """The whole params file as one model: every section required, nothing else allowed."""
    return create_model("Params", __base__=Section,
                        **{name: (model, ...) for name, model in sections().items()})


def _inline(node, defs: dict):
    """Every `$ref` replaced by its definition and pydantic's generated titles dropped, so the
    schema reads (and is walked, as tools/profiles.py does) section by section."""
    if isinstance(node, list):
        return [_inline(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        rest = {k: _inline(v, defs) for k, v in node.items() if k != "$ref"}
        return {**target, **rest}
    return {k: _inline(v, defs) for k, v in node.items()
            if not (k == "title" and isinstance(v, str))}


def schema() -> dict:
    body = params_model().model_json_schema(mode="validation")
    body = _inline({k: v for k, v in body.items() if k != "$defs"}, body.get("$defs", {}))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "params.yaml (generated from the settings models by "
                     "`bias-judge params-schema`; do not edit)", **body}


def schema_text() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
