"""Instance sections owned by formulations: composing their schema fragments into the
instance schema, and building each section with its owner's builder."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from optsplit.errors import InputError
from optsplit.spec import LoadContext, Section


def registered_sections() -> dict[str, tuple[str, Section]]:
    """Section key → (owning formulation, Section), over every registered formulation."""
    from optsplit.problem import formulations

    out: dict[str, tuple[str, Section]] = {}
    for key, form in formulations().items():
        owned = getattr(form, "sections", None)
        for name, section in (owned() if callable(owned) else {}).items():
            if name in out:
                raise InputError(f"instance section '{name}' is claimed by both '{out[name][0]}' and '{key}'")
            out[name] = (key, section)
    return out


def compose(core: Mapping[str, Any]) -> dict[str, Any]:
    """The core schema with every registered section under ``properties`` and its defs merged."""
    full = copy.deepcopy(dict(core))
    for name, (_owner, section) in registered_sections().items():
        full["properties"][name] = dict(section.schema)
        for def_name, definition in section.defs.items():
            if def_name in full["$defs"] and full["$defs"][def_name] != definition:
                raise InputError(f"schema definition '{def_name}' of section '{name}' clashes with another")
            full["$defs"][def_name] = definition
    return full


def build_sections(doc: Mapping[str, Any], ctx: LoadContext) -> dict[str, Any]:
    """Build every registered section present in ``doc``, prerequisites first."""
    sections = registered_sections()
    built: dict[str, Any] = {}
    visiting: set[str] = set()

    def build(name: str) -> None:
        if name in built:
            return
        if name in visiting:
            raise InputError(f"sections depend on each other in a cycle through '{name}'", source=ctx.source)
        visiting.add(name)
        section = sections[name][1]
        for need in section.needs:
            if need not in doc:
                raise InputError(f"section '{name}' needs a [{need}] section", source=ctx.source, path=name)
            if need in sections:
                build(need)
        built[name] = section.build(doc[name], ctx, built)
        visiting.discard(name)

    for name in doc:
        if name in sections:
            build(name)
    return built
