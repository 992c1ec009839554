"""The one way the card templates are loaded: strict undefined names, no autoescaping
(Markdown, not HTML), and a syntax error reported as an InputError naming the file and line."""

from __future__ import annotations

from pathlib import Path

from bias_judge.core.errors import InputError


def load_template(path: Path):
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    try:
        return env.from_string(path.read_text(encoding="utf-8"))
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template syntax error: {exc.message}", file=str(path),
                         line=exc.lineno) from None
