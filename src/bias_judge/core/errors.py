"""One error type for bad input, rendered as a single line that names where it is."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: a file, an optional line number and field, and what is wrong."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.field = field
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
