"""Pieces of error messages: field paths and values shown short and on one line."""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from typing import Any

_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlevel = 2


def brief(value: Any) -> str:
    """repr() of a value, cut to a few dozen characters (a bad value may be megabytes long)."""
    return _SHORT.repr(value)


def field_path(parts: Iterable[Any]) -> str:
    """['network', 'links', 3, 'rate'] → 'network.links[3].rate'; odd keys shown quoted."""
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isprintable() and 0 < len(part) <= 60:
            out += f".{part}" if out else part
        else:
            out += f"[{brief(part)}]"
    return out or "(top level)"


def _plain(name: Any) -> bool:
    return isinstance(name, str) and name.isprintable() and len(name) <= 60


def shown(name: Any) -> str:
    """A user-given name as is when short and printable, else its brief repr."""
    return name if _plain(name) else brief(name)


def quoted(name: Any) -> str:
    """A user-given name in single quotes when short and printable, else its brief repr."""
    return f"'{name}'" if _plain(name) else brief(name)
