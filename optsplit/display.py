"""Human-readable rendering of results for the terminal (the CLI's view; never JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from optsplit.result import Result

# A list of records longer than this shows its head and tail; the whole plan is in --json / -o.
MAX_TABLE_ROWS = 40
HEAD_ROWS, TAIL_ROWS = 30, 5


def print_result(console: Console, result: Result, instance: str, objective_name: str, legend: str) -> None:
    """Header (instance, status, objective with its unit, bound, gap), then the plan."""
    rows: list[tuple[str, Any]] = [
        ("instance", instance),
        ("formulation", result.formulation),
        ("solver", f"{result.solver} ({result.backend})"),
        (
            "status",
            f"{result.status.value} (termination: {result.termination.value}; "
            f"solution: {result.solution_status.value})",
        ),
        ("objective", None if result.objective is None else f"{_number(result.objective)}  {objective_name}"),
        ("bound", _number(result.bound)),
        ("gap", None if result.gap is None else f"{result.gap:.3g}"),
        ("runtime", f"{result.runtime:.4f} s"),
    ]
    if result.explanation:
        rows.append(("why", result.explanation))
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        text = "-" if value is None else str(value)
        console.print(f"{key:<{width}}  {escape(text)}", soft_wrap=True, highlight=False)
    if result.plan is None:
        return
    console.print()
    if legend:
        console.print(f"[dim]{escape(legend)}[/dim]", soft_wrap=True)
    for key, value in result.plan.items():
        if _is_records(value):
            console.print(records_table(key, value))
        else:
            console.print(f"{escape(key)}: {escape(compact(value))}", soft_wrap=True, highlight=False)


def _value_runs(items: list[tuple[str, Any]]) -> str:
    runs, start = [], 0
    for i in range(1, len(items) + 1):
        if i == len(items) or items[i][1] != items[start][1]:
            first, last = items[start][0], items[i - 1][0]
            span = first if i - start == 1 else f"{first}..{last}"
            runs.append(f"{span}: {items[start][1]:g} ({i - start})")
            start = i
    return "; ".join(runs)


def _number(value: float | None) -> str | None:
    """Ten significant digits: enough to compare methods by eye, short enough to read."""
    return None if value is None else f"{value:.10g}"


def _is_records(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, Mapping) for v in value)
        and len({tuple(v) for v in value}) == 1
    )


def records_table(title: str, records: Sequence[Mapping[str, Any]]) -> Table:
    """One row per record; long lists keep their first and last rows and say how many were cut."""
    columns = list(records[0])
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        table.add_column(escape(column), no_wrap=True, overflow="ellipsis")
    shown: list[Mapping[str, Any] | None] = list(records)
    if len(records) > MAX_TABLE_ROWS:
        shown = [*records[:HEAD_ROWS], None, *records[-TAIL_ROWS:]]
        cut = len(records) - HEAD_ROWS - TAIL_ROWS
        table.caption = f"{len(records)} rows, {cut} more rows not shown (all in --json or -o)"
        table.caption_justify = "left"
    for record in shown:
        if record is None:
            table.add_row(*["…"] * len(columns))
            continue
        table.add_row(*[escape(_cell(record[c])) for c in columns])
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and len(value) > 2:
        return f"{value[0]}..{value[-1]} ({len(value)})"
    if isinstance(value, list) and not value:
        return "-"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return json.dumps(value) if isinstance(value, dict) else str(value)


def compact(value: Any) -> str:
    """Runs of a repeated string shown once with their 1-based positions ("1-4 dev, 5-11 edge");
    of lists of routes only those that move (#tensor a->b); a long mapping of names to numbers
    as runs of equal values ("conv1..fc: 0 (515)"); anything else as JSON."""
    if (
        isinstance(value, Mapping)
        and len(value) > 8
        and all(isinstance(v, (int, float)) for v in value.values())
    ):
        return _value_runs(list(value.items()))
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        moves = [f"#{k} {'->'.join(map(str, p))}" for k, p in enumerate(value) if len(p) > 1]
        return "; ".join(moves) or "nothing moves"
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return json.dumps(value, default=str)
    runs, start = [], 0
    for i in range(1, len(value) + 1):
        if i == len(value) or value[i] != value[start]:
            span = f"{start + 1}" if i - start == 1 else f"{start + 1}-{i}"
            runs.append(f"{span} {value[start]}")
            start = i
    return ", ".join(runs)
