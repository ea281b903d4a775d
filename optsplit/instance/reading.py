"""Read a TOML, JSON or YAML file into a dict within ReadLimits; every failure is an InputError."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import tomllib
import yaml

from optsplit.errors import InputError
from optsplit.instance.limits import ReadLimits
from optsplit.instance.scan import DuplicateKeyDict, LongInt
from optsplit.instance.yamlread import YamlLimitError, describe, load_yaml

FORMATS = {".toml": "TOML", ".json": "JSON", ".yaml": "YAML", ".yml": "YAML"}
SUFFIXES = tuple(FORMATS)


def read_document(path: Path, limits: ReadLimits) -> dict[str, Any]:
    """Parse a file into a dict (safe loaders only); numbers and depth are checked later by scan."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        known = ", ".join(SUFFIXES)
        raise InputError(f"unknown file type '{suffix}'; expected one of {known}", source=source)
    text = _read_text(path, limits)
    try:
        if suffix == ".toml":
            doc: Any = _load_toml(text)
        elif suffix == ".json":
            doc = _load_json(text, limits)
        else:
            doc = load_yaml(text, limits)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"malformed TOML: {exc}", source=source) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc}", source=source) from None
    except YamlLimitError as exc:
        raise InputError(describe(exc), source=source) from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {describe(exc)}", source=source) from None
    except RecursionError:
        raise InputError(_too_deep(limits, FORMATS[suffix]), source=source) from None
    except (ValueError, OverflowError) as exc:  # e.g. 30 February, Python's own integer-length cap
        problem = " ".join(str(exc).split())
        raise InputError(f"malformed {FORMATS[suffix]}: {problem}", source=source) from None
    if not isinstance(doc, dict):
        raise InputError("expected a table/object at the top level", source=source)
    return doc


def _read_text(path: Path, limits: ReadLimits) -> str:
    """The file's text, refused before reading when larger than ``max_bytes``."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise InputError(limits.refuse("max_bytes", f"file of {size} bytes"), source=source)
        with path.open(encoding="utf-8") as stream:
            text = stream.read(limits.max_bytes + 1)  # a special file may report size 0
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot read file: {exc}", source=source) from None
    if len(text) > limits.max_bytes:
        raise InputError(limits.refuse("max_bytes", "file too large"), source=source)
    return text


def _load_toml(text: str) -> Any:
    """tomllib.loads, naming the line of an integer literal Python refuses to convert."""
    try:
        return tomllib.loads(text)
    except ValueError as exc:
        if isinstance(exc, tomllib.TOMLDecodeError) or "integer string conversion" not in str(exc):
            raise
        cap = sys.get_int_max_str_digits()
        run = re.search(rf"[0-9][0-9_]{{{cap},}}", text)
        line = f" (line {text.count(chr(10), 0, run.start()) + 1})" if run else ""
        message = f"expected a finite number, got an integer literal of over {cap} digits{line}"
        raise tomllib.TOMLDecodeError(message) from None


def _load_json(text: str, limits: ReadLimits) -> Any:
    """json.loads that leaves over-long integers unconverted and marks duplicate keys."""

    def integer(literal: str) -> int | LongInt:
        digits = len(literal.lstrip("-"))
        return LongInt(digits) if digits > limits.max_int_digits else int(literal)

    def mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) == len(pairs):
            return out
        counts = Counter(key for key, _ in pairs)
        return DuplicateKeyDict(pairs, next(key for key, n in counts.items() if n > 1))

    return json.loads(text, parse_int=integer, object_pairs_hook=mapping)


def _too_deep(limits: ReadLimits, kind: str) -> str:
    """A parser ran out of recursion: past max_depth, unless that was raised beyond the parser."""
    if limits.max_depth < sys.getrecursionlimit() // 5:
        return limits.refuse("max_depth", "nested too deep")
    return f"nested too deep for the {kind} parser"
