"""JSON Schema evaluated column by column: all values of one field at once, exactly as jsonschema.

jsonschema costs ~100 µs per array element, i.e. seconds for 10⁵ links or layers. Here a
keyword is applied to a whole column (every layer's ``flops``, say) with builtins that loop
in C — ``set(map(type, col))``, ``min(col)`` — and falls back to a per-value test only for a
column that fails the bulk test. The verdict is exact: a value is accepted if and only if
jsonschema (Draft 2020-12) reports no error for it. For every array it also records which
elements were rejected, so jsonschema can then be run on those alone for the message.
Keywords outside the supported subset raise Unsupported (the caller then uses jsonschema).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from numbers import Number
from typing import Any

import jsonschema
import numpy as np

Mask = np.ndarray  # bool per value: True = no schema error
Values = list[Any]  # a column: one field's values across many elements
Types = set[type]  # the Python types present in a column

KEYWORDS = set(jsonschema.Draft202012Validator.VALIDATORS)  # others are annotations


class Unsupported(Exception):
    """The schema uses a keyword this module does not evaluate."""


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, Number)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


# Draft 2020-12 type tests as jsonschema defines them, and the exact Python types that
# surely pass them (the bulk test: a column whose types all lie in that set passes).
TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "number": _is_number,
    "null": lambda v: v is None,
}
SURE_TYPES: dict[str, set[type]] = {
    "object": {dict},
    "array": {list},
    "string": {str},
    "boolean": {bool},
    "integer": {int},
    "number": {int, float},
    "null": {type(None)},
}
# bound keyword → test that a number v violates it
BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda v, b: v < b,
    "exclusiveMinimum": lambda v, b: v <= b,
    "maximum": lambda v, b: v > b,
    "exclusiveMaximum": lambda v, b: v >= b,
}


class ColumnCheck:
    """Evaluate schema fragments of ``root`` (which holds the $defs) on columns of values."""

    def __init__(self, root: dict[str, Any]):
        self.root = root
        # (id(array), id(items schema)) → indices of the elements that schema rejects
        self.rejected: dict[tuple[int, int], list[int]] = {}

    def valid(self, schema: Any, values: list[Any]) -> Mask:
        """Which of ``values`` satisfy ``schema``."""
        n = len(values)
        ok = np.ones(n, dtype=bool)
        if schema is True or n == 0:
            return ok
        if schema is False:
            return ~ok
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        types = set(map(type, values))
        for keyword, arg in schema.items():
            if keyword not in KEYWORDS:
                continue
            handler = getattr(self, f"_k_{keyword.lstrip('$')}", None)
            if handler is None:
                raise Unsupported(keyword)
            handler(arg, values, types, ok, schema)
        return ok

    def _k_ref(self, ref: str, values: Values, types: Types, ok: Mask, schema: Any) -> None:
        prefix = "#/$defs/"
        if not ref.startswith(prefix) or ref[len(prefix) :] not in self.root.get("$defs", {}):
            raise Unsupported(f"$ref {ref}")
        ok &= self.valid(self.root["$defs"][ref[len(prefix) :]], values)

    def _k_type(self, names: str | list[str], values: Values, types: Types, ok: Mask, schema: Any) -> None:
        names = [names] if isinstance(names, str) else names
        if types <= set().union(*(SURE_TYPES[name] for name in names)):
            return
        tests = [TYPE_TESTS[name] for name in names]
        ok &= _flags(any(test(v) for test in tests) for v in values)

    def _bound(self, keyword: str, bound: Any, values: Values, types: Types, ok: Mask) -> None:
        violates = BOUNDS[keyword]
        if types <= {int, float} and abs(bound) < 2**53:
            # int → float rounding cannot cross a bound this small; NaN never violates
            try:
                column = np.fromiter(values, dtype=float, count=len(values))
            except OverflowError:  # an integer beyond the float range: test one by one
                pass
            else:
                ok &= ~violates(column, bound)
                return
        ok &= _flags(not (_is_number(v) and violates(v, bound)) for v in values)

    def _k_minimum(self, bound: Any, values: Values, types: Types, ok: Mask, schema: Any) -> None:
        self._bound("minimum", bound, values, types, ok)

    def _k_exclusiveMinimum(self, bound: Any, values: Values, types: Types, ok: Mask, schema: Any) -> None:
        self._bound("exclusiveMinimum", bound, values, types, ok)

    def _k_maximum(self, bound: Any, values: Values, types: Types, ok: Mask, schema: Any) -> None:
        self._bound("maximum", bound, values, types, ok)

    def _k_exclusiveMaximum(self, bound: Any, values: Values, types: Types, ok: Mask, schema: Any) -> None:
        self._bound("exclusiveMaximum", bound, values, types, ok)

    def _k_minLength(self, least: int, values: Values, types: Types, ok: Mask, schema: Any) -> None:
        if types == {str} and min(map(len, values)) >= least:
            return
        ok &= _flags(not (isinstance(v, str) and len(v) < least) for v in values)

    def _k_minItems(self, least: int, values: Values, types: Types, ok: Mask, schema: Any) -> None:
        if types == {list} and min(map(len, values)) >= least:
            return
        ok &= _flags(not (isinstance(v, list) and len(v) < least) for v in values)

    def _k_required(self, names: list[str], values: Values, types: Types, ok: Mask, schema: Any) -> None:
        need = set(names)
        ok &= _flags(not isinstance(v, dict) or v.keys() >= need for v in values)

    def _k_additionalProperties(
        self, extra: Any, values: list[Any], types: set[type], ok: Mask, schema: Any
    ) -> None:
        known = set(schema.get("properties", {}))
        if extra is False:
            ok &= _flags(not isinstance(v, dict) or v.keys() <= known for v in values)
            return
        owners, column = [], []
        for i, v in enumerate(values):
            if isinstance(v, dict):
                for key, item in v.items():
                    if key not in known:
                        owners.append(i)
                        column.append(item)
        self._propagate(self.valid(extra, column), owners, ok)

    def _k_properties(
        self, properties: dict[str, Any], values: list[Any], types: set[type], ok: Mask, schema: Any
    ) -> None:
        if types == {dict}:
            objects, index = values, None
        else:
            index = [i for i, v in enumerate(values) if isinstance(v, dict)]
            objects = [values[i] for i in index]
        for name, sub in properties.items():
            column = [v[name] for v in objects if name in v]
            verdict = self.valid(sub, column)
            if not verdict.all():
                owners = [i for i, v in enumerate(objects) if name in v]
                self._propagate(verdict, owners if index is None else [index[i] for i in owners], ok)

    def _k_items(self, items: Any, values: Values, types: Types, ok: Mask, schema: Any) -> None:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        arrays = [(i, v) for i, v in enumerate(values) if isinstance(v, list)]
        verdict = self.valid(items, [item for _, array in arrays for item in array])
        start = 0
        for i, array in arrays:
            part = verdict[start : start + len(array)]
            start += len(array)
            bad = np.flatnonzero(~part).tolist()
            self.rejected[id(array), id(items)] = bad
            if bad:
                ok[i] = False

    def _k_enum(self, options: list[Any], values: Values, types: Types, ok: Mask, schema: Any) -> None:
        if not all(isinstance(option, str) for option in options):
            raise Unsupported("enum of non-strings")
        allowed = set(options)
        ok &= _flags(isinstance(v, str) and v in allowed for v in values)

    def _k_oneOf(self, options: list[Any], values: Values, types: Types, ok: Mask, schema: Any) -> None:
        passing = sum(self.valid(option, values).astype(int) for option in options)
        ok &= passing == 1

    @staticmethod
    def _propagate(verdict: Mask, owners: list[int], ok: Mask) -> None:
        """Values failing in a sub-column make their owners fail."""
        if not verdict.all():
            ok[np.asarray(owners, dtype=np.int64)[~verdict]] = False


def _flags(values: Iterable[bool]) -> Mask:
    return np.fromiter(values, dtype=bool)
