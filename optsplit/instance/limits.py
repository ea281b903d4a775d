"""Caps on what an input file may demand of the reader, so hostile files fail fast and clearly."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ReadLimits:
    """Limits applied while reading instance and profile files; pass a new one to raise a cap.

    ``max_bytes``: file size. ``max_depth``: nesting of tables/arrays (the deepest valid
    instance needs 9). ``max_alias_nodes``: nodes that YAML aliases may add by expansion
    (a "billion laughs" file stops here). ``max_int_digits``: digits of an integer literal,
    checked before conversion (a number must fit a float anyway: 309 digits at most).
    """

    max_bytes: int = 64 * 2**20
    max_depth: int = 64
    max_alias_nodes: int = 1_000_000
    max_int_digits: int = 400

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ReadLimits.{item.name} must be a positive integer, got {value!r}")

    def refuse(self, name: str, what: str) -> str:
        """The message for an input over limit ``name``: what, the limit, how to raise it."""
        limit = f"{name}={getattr(self, name)}"
        return f"{what}, more than {limit} (raise it with --limit {name}=N or ReadLimits({name}=...))"


DEFAULT_LIMITS = ReadLimits()
