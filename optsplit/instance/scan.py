"""One pass over a parsed document, without recursion: nesting depth, numbers, duplicate keys.

Runs before schema validation, so nothing recursive ever sees a document deeper than
``max_depth``, and every number reaching the model converts to a finite float.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, NoReturn

from optsplit.errors import InputError
from optsplit.instance.limits import ReadLimits
from optsplit.instance.messages import brief, field_path


class LongInt:
    """Stands for an integer literal longer than ``max_int_digits``, left unconverted."""

    __slots__ = ("digits",)

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self) -> str:
        return f"<integer of {self.digits} digits>"


class DuplicateKeyDict(dict[Any, Any]):
    """A parsed mapping that named ``key`` twice (the parser kept the last value)."""

    def __init__(self, pairs: list[tuple[Any, Any]], key: Any):
        super().__init__(pairs)
        self.key = key


def scan(doc: Any, source: str, limits: ReadLimits) -> None:
    """Raise InputError at the first (depth-first) problem a schema cannot catch."""
    if not isinstance(doc, dict | list):
        return
    if isinstance(doc, DuplicateKeyDict):
        raise InputError(f"duplicate key {brief(doc.key)}", source=source, path=field_path([]))
    too_long = 10**limits.max_int_digits
    path: list[Any] = []
    stack: list[Iterator[tuple[Any, Any]]] = [_children(doc)]
    while stack:
        for key, value in stack[-1]:
            kind = type(value)
            if kind is str:
                continue
            if kind is float:
                if not math.isfinite(value):
                    _fail("expected a finite number, got NaN or infinity", source, path, key)
            elif kind is int:
                _check_int(value, too_long, limits, source, path, key)
            elif kind is LongInt:
                what = f"expected a finite number, got an integer of {value.digits} digits"
                _fail(limits.refuse("max_int_digits", what), source, path, key)
            elif kind is DuplicateKeyDict:
                _fail(f"duplicate key {brief(value.key)}", source, path, key)
            elif kind is dict or kind is list or isinstance(value, dict | list):
                if len(stack) >= limits.max_depth:
                    _fail(limits.refuse("max_depth", "nested too deep"), source, path, key)
                path.append(key)
                stack.append(_children(value))
                break
        else:
            stack.pop()
            if path:
                path.pop()


def _children(value: dict[Any, Any] | list[Any]) -> Iterator[tuple[Any, Any]]:
    return iter(value.items()) if isinstance(value, dict) else enumerate(value)


def _check_int(value: int, too_long: int, limits: ReadLimits, source: str, path: list[Any], key: Any) -> None:
    """Integers must fit a float (the model computes in floats) and ``max_int_digits``."""
    if -(2**53) <= value <= 2**53:
        return
    if not -too_long < value < too_long:
        what = "expected a finite number, got an integer with too many digits"
        _fail(limits.refuse("max_int_digits", what), source, path, key)
    try:
        float(value)
    except OverflowError:
        _fail("expected a finite number, got an integer too large for a float", source, path, key)


def _fail(message: str, source: str, path: list[Any], key: Any) -> NoReturn:
    raise InputError(message, source=source, path=field_path([*path, key]))
