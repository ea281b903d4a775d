"""Validate a parsed document: scan (depth, numbers), then the JSON Schema, then plain words.

The schema is first evaluated column by column (optsplit.instance.columns), which settles a
valid document without jsonschema. Only when something fails does jsonschema run, and it
skips array elements the column check accepted, so a 10⁵-link file with one bad link costs
one element's validation, and best_match picks the error a full run would have picked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from optsplit.errors import InputError
from optsplit.instance.columns import ColumnCheck, Unsupported
from optsplit.instance.limits import ReadLimits
from optsplit.instance.messages import brief, field_path
from optsplit.instance.scan import scan

_ITEMS = jsonschema.Draft202012Validator.VALIDATORS["items"]


@cache
def core_schema() -> dict[str, Any]:
    """The instance JSON Schema shipped with the package (without formulation sections)."""
    text = resources.files("optsplit.instance").joinpath("schema.json").read_text()
    return dict(json.loads(text))


def schema() -> dict[str, Any]:
    """The instance JSON Schema: the core plus every registered formulation's sections."""
    from optsplit.instance.sections import compose

    return compose(core_schema())


def validate(doc: Any, source: str, limits: ReadLimits, definition: str | None = None) -> None:
    """Check ``doc`` against the schema (or one of its $defs); raise on the first error."""
    scan(doc, source, limits)
    full = schema()
    target = full if definition is None else {"$defs": full["$defs"], "$ref": f"#/$defs/{definition}"}
    columns = ColumnCheck(full)
    try:
        if columns.valid(target, [doc]).all():
            return
    except Unsupported:
        columns.rejected.clear()  # the schema outgrew the column check: jsonschema does it all
    error = best_error(_errors(target, doc, columns.rejected))
    if error is not None:
        raise InputError(_describe(error), source=source, path=field_path(error.absolute_path))


def best_error(errors: Iterable[jsonschema.ValidationError]) -> jsonschema.ValidationError | None:
    """jsonschema's best match; for a oneOf, the best error of the one option of the right type.

    A profile table with a missing field must say so, not that it is "not valid under any of
    the given schemas" (the options being a file name and a table).
    """
    error = jsonschema.exceptions.best_match(errors)
    while error is not None and error.validator == "oneOf":
        options: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in error.context or []:
            options.setdefault(sub.relative_schema_path[0], []).append(sub)
        meant = [
            subs
            for subs in options.values()
            if not any(s.validator == "type" and not s.relative_path for s in subs)
        ]
        if len(meant) != 1 or len(options) != len(error.validator_value):
            break
        error = jsonschema.exceptions.best_match(meant[0])
    return error


def _errors(
    target: dict[str, Any], doc: Any, rejected: dict[tuple[int, int], list[int]]
) -> Iterator[jsonschema.ValidationError]:
    """jsonschema's errors, visiting of each checked array only the elements ``rejected`` holds."""

    def items(
        validator: Any, items: Any, instance: Any, schema: dict[str, Any]
    ) -> Iterator[jsonschema.ValidationError]:
        bad = rejected.get((id(instance), id(items)))
        if bad is None:
            yield from _ITEMS(validator, items, instance, schema)
            return
        for index in bad:
            yield from validator.descend(instance=instance[index], schema=items, path=index)

    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"items": items})
    return cls(target).iter_errors(doc)


def _describe(error: jsonschema.ValidationError) -> str:
    """A one-line account of a schema error in plain words."""
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return f"missing required field '{missing[0]}'" if missing else _line(error.message)
    if error.validator == "additionalProperties":
        return _line(f"unknown field: {error.message.split('(')[-1].rstrip(')')}")
    if error.validator in ("minimum", "exclusiveMinimum"):
        op = ">=" if error.validator == "minimum" else ">"
        return f"expected a number {op} {error.validator_value}, got {brief(error.instance)}"
    if error.validator == "oneOf":
        names = [
            option.get("type") or option.get("$ref", "?").rsplit("/")[-1] for option in error.validator_value
        ]
        return f"expected {' or '.join(names)}, got {type(error.instance).__name__} {brief(error.instance)}"
    if error.validator == "type":
        kind = type(error.instance).__name__
        return f"expected {error.validator_value}, got {kind} {brief(error.instance)}"
    return _line(error.message)


def _line(text: str, width: int = 200) -> str:
    """One line of at most ``width`` characters (messages quote the offending value)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
