"""What a formulation package hands the core besides its methods: the instance sections it
owns (schema fragment + builder), its instance generators and their parameters.

The core composes the instance schema from the sections, builds each section with its
owner's builder, and turns generator parameters into CLI options, so a new formulation is
one package that registers itself, with no central file to edit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LoadContext:
    """Where a document came from (for error messages and relative profile paths) and the
    reading limits that apply to the files it refers to (a ReadLimits)."""

    source: str
    base_dir: Path
    limits: Any = None


@dataclass(frozen=True)
class Section:
    """A top-level table of instance files owned by one formulation.

    ``schema`` is a JSON Schema fragment for the table; ``defs`` are the fragment's named
    definitions (merged into the composed schema's ``$defs``); ``build`` turns the validated
    table into the formulation's data (raising InputError with field paths); ``needs`` names
    sections that must be built first (their results are passed in ``built``).
    """

    schema: Mapping[str, Any]
    build: Callable[[Any, LoadContext, Mapping[str, Any]], Any]
    defs: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Param:
    """One parameter of a generator, shown as a CLI option ``--name``."""

    name: str
    kind: type  # int, float or str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    open_minimum: bool = False  # minimum excluded
    open_maximum: bool = False  # maximum excluded
    aliases: tuple[str, ...] = ()  # other spellings on the command line, e.g. "-n"


@dataclass(frozen=True)
class Generator:
    """A seeded random-instance generator: ``make(output, **params)`` returns the document.

    ``output`` is the file the document will be written to, so that profile paths can be
    written relative to it.
    """

    name: str
    description: str
    params: tuple[Param, ...]
    make: Callable[..., dict[str, Any]]
    summary: Callable[[dict[str, Any]], str] = lambda doc: ""  # "12 nodes, 30 links"
