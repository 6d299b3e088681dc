"""Errors a user can cause. The CLI prints them as one line; the app shows them as a message."""

from __future__ import annotations


class CurationError(Exception):
    """Something the user can fix: bad input, a missing model, a name that does not exist."""


class InputError(CurationError):
    """A problem in an input file, located by file and line (or row)."""

    def __init__(self, message: str, *, source: str = "", line: int | None = None, kind: str = "invalid"):
        self.source = source
        self.line = line
        self.kind = kind
        where = f"{source}:{line}: " if source and line is not None else (f"{source}: " if source else "")
        super().__init__(f"{where}{message}")


class Cancelled(CurationError):
    """Long work stopped because cancellation was requested."""
