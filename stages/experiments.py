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

import math
from dataclasses import dataclass, field

from bias_judge.evaluation.published import HEADLINE, PUBLISHED, best_published, meets

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
        if checkpoint != "base" and "label" in self.lock and "format" in self.lock:
            # An experiment that reran only the label stage left the rows of its baseline's
            # labels in place: the models downstream were not trained on its labels.
            links.append(("format", "label", "data/labels.jsonl"))
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
                     + [f"metrics/probe_{c}.json" for c in ("sft", "dpo")]
                     + ["metrics/gold_quality.json"])


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


def _candidates(points: dict, dpo: list) -> list[tuple[str, Experiment, str]]:
    """(label, experiment, checkpoint) for every SFT point and every SFT+DPO checkpoint."""
    return ([(f"SFT of {', '.join(f'`{x.name}`' for x in same)}", same[0], "sft")
             for same in points.values()]
            + [(f"SFT+DPO of `{e.name}`", e, "dpo") for e in dpo])


def _value(m: dict, key: str) -> float | None:
    entry = m.get(key)
    value = entry.get("value") if isinstance(entry, dict) else None
    return value if isinstance(value, (int, float)) and not math.isnan(value) else None


def _wins(m: dict) -> int:
    """How many headline metrics meet or beat the best published figure."""
    return sum(1 for key, _, higher in HEADLINE
               if (v := _value(m, key)) is not None and meets(v, key, higher))


def _published_cell(key: str, value: float) -> str:
    return f"{value * 100:.1f} %" if key.startswith(("position_bias", "self_consistency")) \
        else f"{value:.3f}"


def _headline(candidates: list, set_name: str) -> list[str]:
    """The published judge against this project's best checkpoint, metric by metric."""
    scored = [(label, e, ckpt, e.eval_set(ckpt, set_name) or {})
              for label, e, ckpt in candidates]
    scored = [c for c in scored if _value(c[3], "kappa_in_dist") is not None]
    out = ["## Against the published judge", ""]
    if not scored:
        return out + ["Nothing scored yet."]
    # κ in-dist ranks (the published card's headline); a count of wins would let one noisy
    # bucket κ (tie: 25 pairs) pick the column.
    label, e, ckpt, best = max(scored, key=lambda c: (_value(c[3], "kappa_in_dist"), _wins(c[3])))
    out += [f"This project's best checkpoint by κ in-dist is {label}: it meets or beats the best "
            f"published figure on {_wins(best)} of the eight metrics. A mark means a value, at "
            "the card's three decimals, meets or beats the best published one (lower is better "
            "for position bias).", ""]
    head = ["metric", "published base", "published SFT", "published DPO", "best published",
            f"{label} [95 % CI]", "meets the best"]
    rows = []
    for key, name, higher in HEADLINE:
        pct = key.startswith(("position_bias", "self_consistency"))
        value = _value(best, key)
        rows.append([name] + [_published_cell(key, PUBLISHED[c][key]) for c in PUBLISHED]
                    + [f"**{_published_cell(key, best_published(key, higher))}**",
                       _ci(best.get(key), pct=pct),
                       "—" if value is None else ("✓" if meets(value, key, higher) else "✗")])
    out += _table(head, rows)
    out += ["", "Every checkpoint, counted the same way:", ""]
    head = ["checkpoint"] + [name for _, name, _ in HEADLINE] + ["of 8"]
    rows = []
    for label, e, ckpt, m in scored:
        marks = ["—" if (v := _value(m, key)) is None else ("✓" if meets(v, key, higher) else "✗")
                 for key, _, higher in HEADLINE]
        rows.append([label] + marks + [str(_wins(m))])
    return out + _table(head, rows)


def _delta(m_after: dict, m_before: dict, key: str, pct: bool) -> str:
    a, b = _value(m_after, key), _value(m_before, key)
    if a is None or b is None:
        return "—"
    d = (a - b) * (100 if pct else 1)
    return f"{d:+.1f} pp" if pct else f"{d:+.3f}"


def _dpo_effect(dpo: list, set_name: str) -> list[str]:
    """DPO's effect as the change from its own SFT start, on the eight headline metrics."""
    out = ["", "### DPO's change from its own SFT start", "",
           "SFT+DPO minus the SFT checkpoint the DPO run started from (κ in points of κ, rates "
           "in percentage points; for position bias a fall is the gain). The final loss is the "
           "last logged training loss (preference loss, plus the weighted NLL term where "
           "`dpo.sft_weight` > 0); below ln 2 = 0.693 means chosen and rejected were pulled "
           "apart.", ""]
    head = (["experiment", "DPO rows", "rejected", "lr", "β", "sft_weight", "final loss"]
            + [name for _, name, _ in HEADLINE])
    rows = []
    for e in dpo:
        t = e.train("dpo")
        after, before = e.eval_set("dpo", set_name) or {}, e.eval_set("sft", set_name) or {}
        loss = t.get("final_loss")
        rows.append([f"`{e.name}`", str(t.get("rows", "—")), _rejected(e),
                     _g(e.param("dpo.learning_rate")), _g(e.param("dpo.beta")),
                     _g(e.param("dpo.sft_weight", 0.0)),
                     "—" if loss is None else f"{loss:.3f}" + (" (< ln 2)" if loss < math.log(2) else "")]
                    + [_delta(after, before, key, key.startswith(("position", "self")))
                       for key, _, _ in HEADLINE])
    return out + (_table(head, rows) if rows else ["No DPO experiment recorded."])


def _rejected(e: Experiment) -> str:
    """Where the experiment's DPO rejected answers came from."""
    parts = []
    if (e.param("onpolicy.pairs") or 0) > 0:
        parts.append(f"on-policy ({e.param('onpolicy.pairs')} pairs)")
    if e.param("label.import_rejected"):
        parts.append("imported")
    parts.append(str(e.param("format.dpo_rejected", "—")))
    return " + ".join(parts)


def _teacher(experiments: list, points: dict, set_name: str) -> list[str]:
    """The rule teacher against frontier verdicts on training pairs and against the human
    holdout, with the students it taught beside it."""
    out = ["", "## The teacher and its students", "",
           "The rule teacher's labels against frontier-model verdicts on *training* pairs "
           "(`label.frontier_sets`; where the teacher may be tuned) and against the human "
           "holdout (evaluation only), beside the best SFT student trained on those labels. "
           "κ (agreement) per set; docs/training.md#the-teacher.", ""]
    def teacher_of(e: Experiment) -> tuple:
        """What decides the teacher's verdicts (the rejected answers it carries do not)."""
        return (e.param("label.labeler", "rule"), e.param("label.biased_vs_unclear", "TIE"),
                e.param("label.reasoning", "prose"))

    teachers: dict[tuple, tuple[Experiment, dict]] = {}
    for e in experiments:
        g = e.metrics.get("metrics/gold_quality.json") or {}
        if g.get("frontier"):
            teachers.setdefault(teacher_of(e), (e, g))
    if not teachers:
        return out + ["No experiment recorded frontier verdicts."]
    names = sorted({n for _, g in teachers.values() for n in g["frontier"]})
    head = (["teacher (labeler, biased vs unclear, reasoning)"] + [f"vs {n}" for n in names]
            + ["tracked: vs " + n for n in names]
            + ["human in-dist", "human OOD", "student", "student κ in-dist", "student κ OOD"])
    rows = []
    for key, (e, g) in teachers.items():
        cells = [f"{key[0]} ({key[1]}, {key[2]}), `{e.name}`"]
        for n in names:
            f = g["frontier"].get(n) or {}
            cells.append(f"{_num(f.get('kappa'))} ({_num(f.get('agreement'))}), n={f.get('n_scored', '—')}")
        for n in names:
            b = ((g["frontier"].get(n) or {}).get("buckets") or {}).get("tracked_bias_vs_alternate") or {}
            cells.append(f"{_num(b.get('agreement'))}, n={b.get('n', '—')}")
        human = next(iter((g.get("sets") or {}).values()), {})
        slices = human.get("slices") or {}
        ood = next((v for k, v in sorted(slices.items()) if k.startswith("ood")), {})
        cells += [_num((slices.get("in_dist") or {}).get("kappa")), _num(ood.get("kappa"))]
        taught = [same[0] for same in points.values() if teacher_of(same[0]) == key]
        if taught:
            s = max(taught, key=lambda x: _value(x.eval_set("sft", set_name) or {}, "kappa_in_dist") or -1)
            m = s.eval_set("sft", set_name) or {}
            cells += [f"`{s.name}`", _ci(m.get("kappa_in_dist")), _ci(m.get("kappa_ood"))]
        else:
            cells += ["—", "—", "—"]
        rows.append(cells)
    return out + _table(head, rows)


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
    candidates = _candidates(points, dpo)
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
    # Experiments that share one SFT run (DPO experiments on the same SFT) are one point of the
    # curve, listed under all their names.
    points: dict[str, list[Experiment]] = {}
    for e in sft:
        key = e.lock.get("sft", {}).get("outs", {}).get("models/sft/merged") or e.name
        points.setdefault(key, []).append(e)
    out = [
        "# Results: does the recipe teach a small judge to judge?",
        "",
        f"Generated by `{command}` from the recorded DVC experiments "
        "(`docs/experiments.json`, taken from `dvc exp show --json`); do not edit by hand.",
        f"Every number is on eval set `{set_name}` with the exact metrics of `docs/metrics.md`; "
        "intervals are seeded 95 % bootstrap intervals over pairs.",
        "",
    ]
    out += _headline(_candidates(points, dpo), set_name)
    out += ["", "## SFT: the learning curve", ""]
    head = ["experiment", "reasoning", "prompt", "SFT rows", "epochs", "lr", "verdict weight", "LoRA r",
            "train min", "threads", "precision (train / eval)", "tokens/s",
            "final loss"] + QUALITY_HEAD
    rows = []
    for same in points.values():
        e = same[0]
        t = e.train("sft")
        rows.append([", ".join(f"`{x.name}`" for x in same), str(e.param("label.reasoning", "prose")),
                     str(e.param("prompt.style", "published")), str(t.get("rows", "—")),
                     _num(t.get("epochs"), 2), _g(e.param("sft.learning_rate")),
                     _g(e.param("sft.verdict_weight", 1.0)),
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
    out += _dpo_effect(dpo, set_name)
    out += ["", "## Against the bar", "",
            "Issue 9's bar for the best CPU checkpoint, checked for every checkpoint above.", ""]
    head = ["checkpoint"] + [label for label, _, _ in BAR] + ["all"]
    rows = [[f"SFT of {', '.join(f'`{x.name}`' for x in same)}"] + _bar_row(same[0], "sft", set_name)
            for same in points.values()]
    rows += [[f"SFT+DPO of `{e.name}`"] + _bar_row(e, "dpo", set_name) for e in dpo]
    out += _table(head, rows) if rows else ["Nothing scored yet."]
    out += _teacher(experiments, points, set_name)
    out += _trust(points, dpo, set_name)
    out += ["", "## The base model", ""]
    head = ["experiment", "decoding"] + QUALITY_HEAD
    rows = [[f"`{e.name}`", "guided" if e.param("eval.guided") else "free"]
            + _row_for(e, "base", set_name) for e in base if e.eval_set("base", set_name)]
    out += _table(head, rows) if rows else ["No base evaluation recorded."]
    return "\n".join(out) + "\n"
