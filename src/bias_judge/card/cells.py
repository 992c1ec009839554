"""Table cells in the published card's style: κ with 3 decimals, rates as % with one
decimal, verbosity in tokens with its sign; a value measured but undefined as "undefined"
with its n, anything unmeasured as a dash."""

from __future__ import annotations

from bias_judge.card.headline import Measured

DASH = "—"
UNDEFINED = "undefined"


def _num(x: float, kind: str) -> str:
    if kind == "kappa":
        s = f"{x:.3f}"
    elif kind == "rate":
        s = f"{x * 100:.1f}"
    elif kind == "tokens":
        s = f"{x:+.1f}"
    else:
        raise ValueError(f"unknown metric kind {kind!r}")
    # A value that rounds to zero must not print as "-0.000" or "-0.0".
    if s.lstrip("+-").strip("0.") == "":
        s = s.lstrip("+-")
        if kind == "tokens":
            s = "+" + s
    return s


def format_value(x: float | None, kind: str) -> str:
    if x is None:
        return DASH
    s = _num(x, kind)
    return f"{s}%" if kind == "rate" else s


def format_cell(m: Measured, kind: str) -> str:
    """`0.682 [0.612, 0.748] n=240`; the interval and n only when they were measured;
    `undefined n=3` for a value measured over pairs where it has no definition."""
    if m.undefined:
        return f"{UNDEFINED} n={m.n}"
    if not m.present:
        return DASH
    parts = [format_value(m.value, kind)]
    if m.ci_low is not None and m.ci_high is not None:
        parts.append(f"[{_num(m.ci_low, kind)}, {_num(m.ci_high, kind)}]")
    if m.n is not None:
        parts.append(f"n={m.n}")
    return " ".join(parts)


def round3(x: float) -> float:
    """The model-index value: 3 decimals, and never a negative zero."""
    r = round(x, 3)
    return 0.0 if r == 0 else r


def md_escape(text: str) -> str:
    """Safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")
