"""Exceptions that carry a message meant for the user, never a traceback."""

from __future__ import annotations


class OptsplitError(Exception):
    """Base class of every error optsplit raises on purpose."""


class InputError(OptsplitError):
    """Bad input: names the file, the field path inside it and what was expected."""

    def __init__(self, message: str, *, source: str | None = None, path: str | None = None):
        self.source = source
        self.path = path
        self.detail = message
        where = ": ".join(part for part in (source, path) if part)
        super().__init__(f"{where}: {message}" if where else message)


class UnknownNameError(InputError):
    """An unknown formulation, solver or back-end was asked for; lists the known ones."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"unknown {kind} '{name}'; known: {', '.join(sorted(known)) or 'none'}")


class OptionError(InputError, TypeError):
    """A library call got an option of the wrong type, out of range, or one that does not exist."""


class SolverError(OptsplitError):
    """A solver failed or cannot run: not the user's input, so reported apart from bad input."""


class SolverUnavailableError(SolverError):
    """A back-end exists but cannot run here (missing package); says why."""
