"""The experiment record and the results page generated from it (docs/results.md).

A record is a list of experiments, each as DVC showed it (`dvc exp show --json`: name, rev,
params, metrics) plus the stage hashes of its `dvc.lock`, taken once by
`bias-judge results record`. Everything the page says is computed here from that record, so
the page regenerates byte for byte and no number in it is typed by hand.

A checkpoint's numbers count for an experiment only when its stage chain was run for that
experiment: an experiment that stopped at `evaluate@sft` still carries the DPO metrics files of
its baseline, and the lock hashes tell them apart (the DPO evaluation must have read the DPO
model this experiment's DPO stage wrote, from the SFT adapter its SFT stage wrote).
"""

from __future__ import annotations

from dataclasses import dataclass, field

@dataclass
class Experiment:
    name: str
    rev: str
    params: dict
    metrics: dict                     # metrics file path -> its content
    lock: dict = field(default_factory=dict)  # stage -> {"deps": {path: md5}, "outs": {...}}

    def param(self, dotted: str, default=None):
        node = self.params
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    def current(self, checkpoint: str) -> bool:
        """True when this experiment's evaluate@<checkpoint> scored the model its own chain
        trained (see the module docstring)."""
        if f"evaluate@{checkpoint}" not in self.lock:
            return False
        if checkpoint == "base":
            links = [("evaluate@base", "base_model", "models/base")]
        else:
            links = [(f"evaluate@{checkpoint}", checkpoint, f"models/{checkpoint}/merged")]
        if checkpoint == "dpo":
            links.append(("dpo", "sft", "models/sft/adapter"))
        for consumer, producer, path in links:
            used = self.lock.get(consumer, {}).get("deps", {}).get(path)
            made = self.lock.get(producer, {}).get("outs", {}).get(path)
            if used is None or used != made:
                return False
        return True

    def eval_set(self, checkpoint: str, name: str) -> dict | None:
        doc = self.metrics.get(f"metrics/eval_{checkpoint}.json") or {}
        return (doc.get("sets") or {}).get(name)

    def train(self, stage: str) -> dict:
        return self.metrics.get(f"metrics/train_{stage}.json") or {}

    def probed(self, checkpoint: str) -> dict | None:
        """This experiment's probe@<checkpoint> rates, when it probed the model its own chain
        trained (the probe read the merged model the lock's training stage wrote)."""
        path = f"models/{checkpoint}/merged"
        used = self.lock.get(f"probe@{checkpoint}", {}).get("deps", {}).get(path)
        if used is None or used != self.lock.get(checkpoint, {}).get("outs", {}).get(path):
            return None
        return self.metrics.get(f"metrics/probe_{checkpoint}.json")


def lock_hashes(lock: dict) -> dict:
    """{stage: {"deps": {path: md5}, "outs": {path: md5}}} from a parsed dvc.lock."""
    out = {}
    for stage, entry in (lock.get("stages") or {}).items():
        out[stage] = {kind: {d["path"]: d.get("md5") for d in entry.get(kind) or []}
                      for kind in ("deps", "outs")}
    return out


def is_commit(rev) -> bool:
    return isinstance(rev, str) and len(rev) == 40 and all(c in "0123456789abcdef" for c in rev)


# The per-checkpoint details the page reads. They are git-tracked but not declared as DVC
# metrics (only the summary is, so that `dvc metrics diff` stays readable), so `dvc exp show`
# does not list them: the recorder reads them from each experiment's commit.
DETAIL_FILES = tuple([f"metrics/eval_{c}.json" for c in ("base", "sft", "dpo")]
                     + [f"metrics/train_{s}.json" for s in ("sft", "dpo")]
                     + [f"metrics/probe_{c}.json" for c in ("sft", "dpo")])


def from_exp_show(exp_show: list[dict], locks: dict[str, dict],
                  details: dict[str, dict] | None = None) -> list[Experiment]:
    """The named experiments of a `dvc exp show --json` listing (baselines and the workspace
    are left out), each with the lock hashes of its commit (`locks`: rev -> parsed dvc.lock)
    and the detail files of that commit (`details`: rev -> {path: content}) beside the
    metrics DVC showed."""
    found = []
    for baseline in exp_show:
        for group in baseline.get("experiments") or []:
            for run in group.get("revs") or []:
                data = run.get("data") or {}
                name = run.get("name") or data.get("name")
                if (not name or run.get("error") or not is_commit(run.get("rev"))
                        or data.get("status") not in (None, "Success")):
                    continue
                params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
                metrics = {**(details or {}).get(run["rev"], {}),
                           **{path: (m or {}).get("data") or {}
                              for path, m in (data.get("metrics") or {}).items()}}
                found.append(Experiment(name=name, rev=run["rev"], params=params,
                                        metrics=metrics,
                                        lock=lock_hashes(locks.get(run["rev"]) or {})))
    return sorted(found, key=lambda e: e.name)


def to_record(experiments: list[Experiment]) -> dict:
    return {"experiments": [
        {"name": e.name, "rev": e.rev, "params": e.params, "metrics": e.metrics, "lock": e.lock}
        for e in sorted(experiments, key=lambda e: e.name)]}


def from_record(record: dict) -> list[Experiment]:
    return [Experiment(**row) for row in record["experiments"]]


# --- the page ----------------------------------------------------------------------------

def _num(value, digits=3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(entry: dict | None, digits=3, pct=False) -> str:
    if not entry or entry.get("value") is None:
        return "—"
    scale = 100.0 if pct else 1.0
    d = 1 if pct else digits
    unit = " %" if pct else ""
    value = f"{entry['value'] * scale:.{d}f}{unit}"
    if entry.get("ci_low") is None or entry.get("ci_high") is None:
        return value
    return f"{value} [{entry['ci_low'] * scale:.{d}f}, {entry['ci_high'] * scale:.{d}f}]"


def _g(value) -> str:
    return "—" if value is None else f"{value:g}"


def _minutes(seconds) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}"


_SHORT = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


def _precision(e: Experiment, checkpoint: str) -> str:
    """`train / eval` precision as resolved on the machine (older records: as set in params),
    with `(emulated)` where bf16 ran on a CPU without bf16 units."""
    def one(record: dict | None, fallback) -> str:
        if not record:
            return _SHORT.get(str(fallback), str(fallback)) if fallback else "—"
        value = _SHORT.get(record.get("resolved"), record.get("resolved"))
        emulated = value == "bf16" and record.get("native_bf16") is False
        return f"{value} (emulated)" if emulated else str(value)
    doc = e.metrics.get(f"metrics/eval_{checkpoint}.json") or {}
    train = one(e.train(checkpoint).get("precision"), e.param(f"{checkpoint}.precision"))
    return f"{train} / {one(doc.get('precision'), e.param('eval.dtype'))}"


def _row_for(e: Experiment, checkpoint: str, set_name: str) -> list[str]:
    m = e.eval_set(checkpoint, set_name) or {}
    return [_ci(m.get("kappa_in_dist")), _ci(m.get("kappa_ood")),
            _ci(m.get("position_bias_in_dist"), pct=True),
            _ci(m.get("parse_failure_rate"), pct=True),
            _ci(m.get("self_consistency"), pct=True),
            str(m.get("n_pairs", "—"))]


QUALITY_HEAD = ["κ in-dist [95 % CI]", "κ OOD [95 % CI]", "position bias in-dist",
                "parse failures", "self-consistency", "pairs"]


# Issue 9's bar for a CPU judge on the human-labelled holdout: (label, metric, test on its entry).
BAR = (
    ("κ in-dist ≥ 0.25, CI low > 0", "kappa_in_dist",
     lambda m: m["value"] >= 0.25 and (m.get("ci_low") or 0) > 0),
    ("κ OOD ≥ 0.15", "kappa_ood", lambda m: m["value"] >= 0.15),
    ("position bias in-dist ≤ 35 %", "position_bias_in_dist", lambda m: m["value"] <= 0.35),
    ("parse failures ≤ 2 %", "parse_failure_rate", lambda m: m["value"] <= 0.02),
)


def _bar_row(e: Experiment, checkpoint: str, set_name: str) -> list[str]:
    m = e.eval_set(checkpoint, set_name) or {}
    marks = []
    for _, key, test in BAR:
        entry = m.get(key)
        marks.append("—" if not entry or entry.get("value") is None
                     else ("yes" if test(entry) else "no"))
    return marks + ["**yes**" if all(x == "yes" for x in marks) else "no"]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _kept(pp: dict, threshold: float) -> str:
    point = next((c for c in pp.get("coverage_agreement") or []
                  if abs(c["threshold"] - threshold) < 1e-9), None)
    if point is None or point.get("coverage") is None:
        return "—"
    return f"{point['coverage'] * 100:.0f} % / {_num(point.get('kappa'))}"


def _trust(points: dict, dpo: list, set_name: str) -> list[str]:
    """The averaged-probability protocol beside the greedy one, and the probe rates
    (docs/trust.md), for every checkpoint that has them."""
    out = ["", "## Trusting one verdict: probabilities over both orders, and the probes", "",
           "The greedy protocol (the published one: original-order verdict) beside the verdict "
           "of the averaged probabilities of both orders; order agreement is the share of "
           "pairs whose two per-order probability verdicts agree (the averaged verdict itself "
           "cannot depend on the order). Kept at 0.5: the share of pairs whose averaged "
           "confidence is at least 0.5, and κ on them (`judge --abstain-below 0.5`).", ""]
    head = ["checkpoint", "κ in-dist greedy", "κ in-dist averaged", "κ OOD greedy",
            "κ OOD averaged", "position bias in-dist (greedy)", "order agreement in-dist",
            "ECE", "Brier", "kept at 0.5 / κ", "pairs"]
    candidates = [(f"SFT of {', '.join(f'`{x.name}`' for x in same)}", same[0], "sft")
                  for same in points.values()] + [(f"SFT+DPO of `{e.name}`", e, "dpo")
                                                   for e in dpo]
    rows = []
    for label, e, ckpt in candidates:
        m = e.eval_set(ckpt, set_name) or {}
        pp = m.get("probability_protocol")
        if not pp:
            continue
        rows.append([label, _ci(m.get("kappa_in_dist")), _ci(pp.get("kappa_in_dist")),
                     _ci(m.get("kappa_ood")), _ci(pp.get("kappa_ood")),
                     _ci(m.get("position_bias_in_dist"), pct=True),
                     _ci(pp.get("order_agreement_in_dist"), pct=True), _ci(pp.get("ece")),
                     _ci(pp.get("brier")), _kept(pp, 0.5), str(m.get("n_pairs", "—"))])
    out += _table(head, rows) if rows else ["No evaluation with verdict probabilities recorded."]
    out += ["", "Probes of the judge itself (`bias-judge probe`): each pair judged in both "
            "orders as given, with neutral sentences put before its clean response, and with "
            "its two groups exchanged everywhere.", ""]
    head = ["checkpoint", "pairs", "position: orders disagree", "P(first) − P(second)",
            "verbosity: toward padded", "verbosity: flips", "groups exchanged: flips",
            "groups exchanged: TV shift"]
    rows = []
    for label, e, ckpt in candidates:
        p = e.probed(ckpt)
        if not p:
            continue
        rows.append([label, str(p["pairs"]), _ci(p["position"]["inconsistency"], pct=True),
                     _ci(p["position"]["first_slot_shift"]),
                     _ci(p["verbosity"]["toward_padded"], pct=True),
                     _ci(p["verbosity"]["flip_rate"], pct=True),
                     _ci(p["counterfactual"]["flip_rate"], pct=True),
                     _ci(p["counterfactual"]["probability_shift"])])
    out += _table(head, rows) if rows else ["No probe recorded."]
    return out


def render(experiments: list[Experiment], *, set_name: str, command: str) -> str:
    """docs/results.md: the SFT learning curve, DPO's own effect, and the base model, each
    checkpoint only from the experiments that trained and scored it."""
    sft = sorted((e for e in experiments if e.current("sft")),
                 key=lambda e: (e.train("sft").get("rows") or 0,
                                e.train("sft").get("epochs") or 0, e.name))
    dpo = [e for e in sft if e.current("dpo")]
    base = [e for e in experiments if e.current("base")]
    out = [
        "# Results: does the recipe teach a small judge to judge?",
        "",
        f"Generated by `{command}` from the recorded DVC experiments "
        "(`docs/experiments.json`, taken from `dvc exp show --json`); do not edit by hand.",
        f"Every number is on eval set `{set_name}` with the exact metrics of `docs/metrics.md`; "
        "intervals are seeded 95 % bootstrap intervals over pairs.",
        "",
        "## SFT: the learning curve",
        "",
    ]
    head = ["experiment", "reasoning", "prompt", "SFT rows", "epochs", "lr", "LoRA r",
            "train min", "threads", "precision (train / eval)", "tokens/s",
            "final loss"] + QUALITY_HEAD
    # Experiments that share one SFT run (DPO experiments on the same SFT) are one point of the
    # curve, listed under all their names.
    points: dict[str, list[Experiment]] = {}
    for e in sft:
        key = e.lock.get("sft", {}).get("outs", {}).get("models/sft/merged") or e.name
        points.setdefault(key, []).append(e)
    rows = []
    for same in points.values():
        e = same[0]
        t = e.train("sft")
        rows.append([", ".join(f"`{x.name}`" for x in same), str(e.param("label.reasoning", "prose")),
                     str(e.param("prompt.style", "published")), str(t.get("rows", "—")),
                     _num(t.get("epochs"), 2), _g(e.param("sft.learning_rate")),
                     str(e.param("sft.lora.r")), _minutes(t.get("wall_time_s")),
                     str(e.param("model.threads", "—")), _precision(e, "sft"),
                     _num(t.get("tokens_per_s"), 0),
                     _num(t.get("final_loss"))] + _row_for(e, "sft", set_name))
    out += _table(head, rows) if rows else ["No SFT experiment recorded."]
    out += ["", "## DPO after SFT: its own effect", "",
            "Each DPO experiment is shown with the SFT checkpoint it started from. DPO's sigmoid "
            "loss starts at ln 2 = 0.693; a final loss near it means the chosen and rejected "
            "replies were barely pulled apart.", ""]
    head = ["experiment", "DPO rows", "rejected", "reference", "lr", "train min",
            "final loss", "checkpoint"] + QUALITY_HEAD
    rows = []
    for e in dpo:
        t = e.train("dpo")
        for ckpt in ("sft", "dpo"):
            rows.append([f"`{e.name}`", str(t.get("rows", "—")),
                         str(e.param("format.dpo_rejected", "—")),
                         str(e.param("dpo.reference", "base")),
                         _g(e.param("dpo.learning_rate")),
                         _minutes(t.get("wall_time_s")) if ckpt == "dpo" else "",
                         _num(t.get("final_loss")) if ckpt == "dpo" else "",
                         "SFT" if ckpt == "sft" else "SFT+DPO"] + _row_for(e, ckpt, set_name))
    out += _table(head, rows) if rows else ["No DPO experiment recorded."]
    out += ["", "## Against the bar", "",
            "Issue 9's bar for the best CPU checkpoint, checked for every checkpoint above.", ""]
    head = ["checkpoint"] + [label for label, _, _ in BAR] + ["all"]
    rows = [[f"SFT of {', '.join(f'`{x.name}`' for x in same)}"] + _bar_row(same[0], "sft", set_name)
            for same in points.values()]
    rows += [[f"SFT+DPO of `{e.name}`"] + _bar_row(e, "dpo", set_name) for e in dpo]
    out += _table(head, rows) if rows else ["Nothing scored yet."]
    out += _trust(points, dpo, set_name)
    out += ["", "## The base model", ""]
    head = ["experiment", "decoding"] + QUALITY_HEAD
    rows = [[f"`{e.name}`", "guided" if e.param("eval.guided") else "free"]
            + _row_for(e, "base", set_name) for e in base]
    out += _table(head, rows) if rows else ["No base evaluation recorded."]
    return "\n".join(out) + "\n"
