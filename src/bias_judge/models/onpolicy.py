"""On-policy DPO rows (docs/training.md#on-policy-dpo): the SFT judge's own wrong replies on
training-pool pairs as the rejected side.

The SFT judge answers a seeded sample of labelled training pairs greedily in both orders. An
order whose verdict (mapped back to the input order) differs from the label, or that gives no
verdict at all, yields one DPO row: chosen = the label's target in that order, rejected = the
judge's reply word for word. A verdict that flips under the swap always leaves one order wrong,
so position bias is attacked where the judge actually shows it. TIE-labelled pairs may take
part (`include_tie`), unlike the format stage's offline rows, because a judge that never says
TIE can only be taught otherwise from pairs whose label is TIE.

The stage's DPO rows are those on-policy rows followed by `offline_rows` rows of the format
stage (whole pairs, seeded; pairs already used on-policy are left out), so `dpo.max_rows`
then cuts one mixed file.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from bias_judge.core import jsonio
from bias_judge.core.artifacts import Output, Sidecar, StageResult, checksums, count_by
from bias_judge.core.errors import InputError
from bias_judge.core.settings import Section, Seed, as_params
from bias_judge.core.vocabulary import ORDERS
from bias_judge.data.format_rows import Confidence, target_for
from bias_judge.data.prompt import (build_messages, format_target, parse_verdict, swap_reasoning,
                                   swap_verdict)
from bias_judge.models.rows import select_rows

ON_POLICY = "on_policy"  # the rejected_kind of these rows (schemas/dpo_row.schema.json)
FILES = {"dpo": "dpo.jsonl", "meta": "dpo.meta.json"}


class OnPolicySettings(Section):
    """params section `onpolicy`: the SFT judge's own wrong replies as DPO rejected answers."""
    pairs: int = Field(ge=0, description=(
        "labelled training pairs the SFT judge answers in both orders; 0 = off"))
    min_confidence: Confidence = Field(description="labels below it are not used")
    include_tie: bool = Field(description="TIE-labelled pairs too")
    mirror: bool = Field(description=(
        "a pair wrong in one order only also gets that row in the other order, the reply "
        "mirrored (Response A/B and the verdict exchanged), so the rows are swap-balanced"))
    offline_rows: int | None = Field(ge=0, description=(
        "format-stage rows added after the on-policy ones (whole pairs, seeded); null = all"))
    seed: Seed


def pick_pairs(labelled: Sequence[dict], s: OnPolicySettings) -> list[dict]:
    """A seeded sample of at most `s.pairs` usable labelled pairs, sorted by pair_id."""
    usable = [p for p in labelled if p["confidence"] >= s.min_confidence
              and (s.include_tie or p["verdict"] != "TIE")]
    usable.sort(key=lambda p: p["pair_id"])
    random.Random(s.seed).shuffle(usable)
    return sorted(usable[:s.pairs], key=lambda p: p["pair_id"])


def judged_wrong(label: str, verdict_in_input_order: str | None) -> bool:
    return verdict_in_input_order != label


def _row(pair: dict, order: str, rejected: str, prompt_style: str) -> dict:
    return {
        "prompt": build_messages(pair, swapped=order == "swapped", style=prompt_style),
        "chosen": [{"role": "assistant", "content": target_for(pair, order)}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "pair_id": pair["pair_id"],
        "order": order,
        "rejected_kind": ON_POLICY,
        "pair_category": pair["pair_category"],
    }


def mirrored(reply: str) -> str | None:
    """A parsed reply as it reads with the two responses exchanged: its Response A/B mentions
    and its verdict swapped, in the reply format; None for a reply without a verdict."""
    reasoning, verdict = parse_verdict(reply)
    if verdict is None or reasoning is None:
        return None
    return format_target(swap_reasoning(reasoning.strip()), swap_verdict(verdict))


def onpolicy_rows(pairs: Sequence[dict], judged: Sequence[dict], *, prompt_style: str,
                  mirror: bool = False) -> tuple[list[dict], dict]:
    """DPO rows from `judged` (judge_pairs rows for `pairs`, same order) and their counts.

    A reply cut at the token budget is not used: it is shorter than any label by construction,
    and "the shorter answer loses" is the shortcut the length guard exists to prevent.

    `mirror`: a pair wrong in one order only would teach one direction alone (chosen B over A
    as seen, say), and DPO then pushes the letter instead of the judgement (measured:
    docs/results.md, `holdout-r1600-vw3-dpo-onpolicy`); its row is also given in the other
    order with the reply mirrored, as the format stage swap-doubles every row."""
    rows, counts = [], {"pairs": len(pairs), "orders_wrong": 0, "orders_unparsed": 0,
                        "orders_cut_skipped": 0, "pairs_flipping": 0, "pairs_right_both": 0,
                        "mirrored_rows": 0}
    for pair, result in zip(pairs, judged, strict=True):
        if result.get("pair_id") != pair["pair_id"]:
            raise InputError("judged rows are not in the order of the pairs",
                             field=str(pair["pair_id"]))
        greedy = {run["order"]: run for run in result["runs"]}
        verdicts = result["order_verdicts"]
        counts["pairs_flipping"] += (None not in verdicts.values()
                                     and verdicts["original"] != verdicts["swapped"])
        wrong_here, made = 0, {}
        for order in ORDERS:
            run = greedy[order]
            if not judged_wrong(pair["verdict"], run["verdict"]):
                continue
            wrong_here += 1
            counts["orders_wrong"] += 1
            counts["orders_unparsed"] += run["verdict"] is None
            if run["finish_reason"] != "stop" or not run["raw_output"].strip():
                counts["orders_cut_skipped"] += 1
                continue
            made[order] = run["raw_output"].strip()
        if mirror and len(made) == 1:
            (order, reply), = made.items()
            other = ORDERS[1 - ORDERS.index(order)]
            if (flipped := mirrored(reply)) is not None:
                made[other] = flipped
                counts["mirrored_rows"] += 1
        rows += [_row(pair, order, made[order], prompt_style) for order in ORDERS if order in made]
        counts["pairs_right_both"] += wrong_here == 0
    return rows, counts


def with_offline(onpolicy: list[dict], offline: list[dict], n: int | None, seed: int) -> list[dict]:
    """The on-policy rows, then up to `n` offline rows of other pairs (whole pairs, seeded)."""
    used = {r["pair_id"] for r in onpolicy}
    rest = [r for r in offline if r["pair_id"] not in used]
    return list(onpolicy) + select_rows(rest, n, seed)


def _length_ratio(rows: list[dict]) -> float | None:
    if not rows:
        return None
    chosen = statistics.median(len(r["chosen"][0]["content"].split()) for r in rows)
    rejected = statistics.median(len(r["rejected"][0]["content"].split()) for r in rows)
    return round(chosen / rejected, 4)


def onpolicy_file(model_dir, labels_path, offline_path, out_dir, s: OnPolicySettings,
                  eval_settings, prompt_style: str) -> StageResult:
    """The onpolicy stage: the SFT judge's replies on `s.pairs` training pairs -> DIR/dpo.jsonl
    (on-policy rows, then offline rows) and DIR/dpo.meta.json. With `s.pairs` 0 no model is
    loaded and the file holds the offline rows only."""
    import time

    from bias_judge.core.progress import note

    labelled = jsonio.read_jsonl(labels_path, schema="labelled_pair")
    offline = jsonio.read_jsonl(offline_path, schema="dpo_row")
    inputs = checksums(labels_path, offline_path)
    if s.pairs < 0:
        raise InputError(f"pairs must be >= 0, got {s.pairs}", field="onpolicy.pairs")
    pairs = pick_pairs(labelled, s) if s.pairs else []
    counts: dict = {"pairs": 0}
    onpolicy: list[dict] = []
    engine_info: dict = {}
    if pairs:
        from bias_judge.evaluation.inference import load_eval_engine
        from bias_judge.evaluation.judge import judge_pairs, settings_for_model
        from bias_judge.models.folder import check_model_folder

        check_model_folder(model_dir)
        judge_settings, _ = settings_for_model(model_dir, eval_settings, prompt_style,
                                               swap_check=True, samples=0, guided=False,
                                               probabilities=False)
        started = time.monotonic()
        engine = load_eval_engine(model_dir, eval_settings)
        note(f"onpolicy: {engine.name} engine, {engine.dtype}, {len(pairs)} pairs x 2 orders")
        try:
            report = judge_pairs(engine, pairs, judge_settings, desc="onpolicy")
        finally:
            engine.close()
        onpolicy, counts = onpolicy_rows(pairs, report.rows,
                                         prompt_style=judge_settings.prompt_style, mirror=s.mirror)
        counts["generated_tokens"] = report.generated_tokens
        counts["seconds"] = round(time.monotonic() - started, 1)
        engine_info = {"engine": engine.name, "dtype": engine.dtype,
                       "max_new_tokens": judge_settings.max_new_tokens}
    rows = with_offline(onpolicy, offline, s.offline_rows, s.seed)
    counts.update(onpolicy_rows=len(onpolicy), offline_rows=len(rows) - len(onpolicy),
                  by_rejected_kind=count_by(rows, "rejected_kind"),
                  onpolicy_by_bucket=count_by(onpolicy, "pair_category"),
                  onpolicy_length_ratio_chosen_over_rejected=_length_ratio(onpolicy))
    warnings = [] if rows else ["no DPO rows: the DPO stage has nothing to train on"]
    out = Path(out_dir)
    return StageResult(
        outputs=[Output(out / FILES["dpo"], rows, "dpo_row", jsonl=True)],
        sidecars=[Sidecar(out / FILES["meta"], FILES["dpo"], rows=len(rows), seed=s.seed,
                          counts={**counts, **({"engine": engine_info} if engine_info else {})},
                          inputs=inputs, params={**as_params(s), "prompt_style": prompt_style},
                          warnings=warnings)],
        warnings=warnings,
        summary=f"{len(onpolicy)} on-policy rows from {len(pairs)} pairs + "
                f"{len(rows) - len(onpolicy)} offline rows -> {out / FILES['dpo']}")
