"""One error type for bad input, rendered as a single line that names where it is."""

from __future__ import annotations

# A message quotes the bad value; a hostile or broken input can make that megabytes (one
# 50 MB field gave a 52 MB error line). Past these lengths the middle is left out, keeping
# the start (what was found) and the end (why it is wrong).
MAX_MESSAGE = 400
MAX_FIELD = 120


def clip(text: str, limit: int) -> str:
    """`text` whole when short; otherwise its start and end around a count of what is left out."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 4
    return f"{text[:head]}... [{len(text) - head - tail} characters left out] ...{text[-tail:]}"


class InputError(Exception):
    """Bad input: a file, an optional line number and field, and what is wrong."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.message = clip(str(message), MAX_MESSAGE)
        self.file = file
        self.line = line
        self.field = None if field is None else clip(str(field), MAX_FIELD)
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.file:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"field '{self.field}': " if self.field else ""
        return f"{where}{field}{self.message}".replace("\n", " ")
