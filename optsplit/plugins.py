"""Registries of named plug-ins (formulations, solver back-ends), filled three ways.

Built-ins are registered by import path and imported on first use, so `import optsplit`
and `optsplit --help` stay light; objects are added at run time with ``register()``; other
packages announce theirs in an entry-point group, read once on first look-up. Nothing
central lists what a third party adds.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from optsplit.errors import OptionError, UnknownNameError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Lazy:
    """A plug-in known by its import path ("package.module:factory") and factory arguments."""

    target: str
    args: tuple[Any, ...] = ()

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        factory = getattr(importlib.import_module(module), attr)
        return factory(*self.args)


class Registry(Generic[T]):
    """Name → plug-in; lazy entries are imported and built once, on first ``get``."""

    def __init__(self, what: str, group: str, accepts: Callable[[Any], bool]) -> None:
        self.what, self.group, self._accepts = what, group, accepts
        self._entries: dict[str, T | Lazy] = {}
        self._loaded: dict[str, T] = {}
        self._entry_points_read = False

    def add_builtin(self, name: str, target: Lazy) -> None:
        self._entries[name] = target

    def register(self, name: str, plugin: T, *, replace: bool = False) -> None:
        """Add a plug-in object; refuses to shadow a registered name unless ``replace``."""
        if not self._accepts(plugin):
            raise OptionError(f"{plugin!r} is not a {self.what}")
        self._read_entry_points()
        if name in self._entries and not replace:
            raise OptionError(f"a {self.what} named '{name}' is already registered")
        self._entries[name] = plugin
        self._loaded.pop(name, None)

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)
        self._loaded.pop(name, None)

    def _read_entry_points(self) -> None:
        if self._entry_points_read:
            return
        self._entry_points_read = True
        for point in entry_points(group=self.group):
            if point.name in self._entries:
                log.warning("%s '%s' from an entry point ignored: the name is taken", self.what, point.name)
                continue
            module, _, attr = point.value.partition(":")
            self._entries[point.name] = Lazy(f"{module.strip()}:{attr.strip()}")

    def refresh(self) -> None:
        """Read the entry points again (after installing a plug-in into a running process)."""
        self._entry_points_read = False

    def names(self) -> list[str]:
        self._read_entry_points()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def get(self, name: str) -> T:
        """The plug-in, imported on first use; an unknown name lists the known ones."""
        self._read_entry_points()
        if name not in self._entries:
            raise UnknownNameError(self.what, name, list(self._entries))
        if name not in self._loaded:
            entry = self._entries[name]
            plugin = entry.load() if isinstance(entry, Lazy) else entry
            if not self._accepts(plugin):
                raise OptionError(f"'{name}' ({entry}) is not a {self.what}")
            self._loaded[name] = plugin
        return self._loaded[name]

    def get_if_loaded(self, name: str) -> T | None:
        """The plug-in if it is already imported (or was registered as an object), else None."""
        entry = self._entries.get(name)
        if entry is not None and not isinstance(entry, Lazy):
            return entry
        return self._loaded.get(name)

    def items(self) -> Iterator[tuple[str, T]]:
        """Every plug-in that loads; one that fails to import is logged and skipped."""
        for name in self.names():
            try:
                yield name, self.get(name)
            except Exception as exc:  # a broken plug-in must not break the others
                log.warning("%s '%s' failed to load: %s", self.what, name, exc)
