"""Run benchmark cases in a worker process under a wall-clock guard, one CSV row each.

Rows are appended and flushed as soon as a case ends, so an interrupted sweep resumes
where it stopped: cases whose key already has a row are skipped.
"""

from __future__ import annotations

import csv
import math
import multiprocessing as mp
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

KEY_FIELDS = ("group", "instance", "method", "backend")
# Columns the runner fills for every suite, after the suite's own.
RUNNER_FIELDS = ("time_limit", "threads", "seed", "wall_time", "error")


@dataclass(frozen=True)
class Case:
    """One benchmark run: which instance (file or generator spec), which method, which limits."""

    group: str
    instance: str
    method: str
    spec: dict[str, Any]  # {"file": path} or {"generate": {...}}
    formulation: str
    backend: str = ""
    time_limit: float | None = None
    repeats: int = 1
    threads: int = 1
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, ...]:
        return (self.group, self.instance, self.method, self.backend)


@dataclass(frozen=True)
class Suite:
    """A named set of cases, their CSV columns and the report written from the rows."""

    name: str
    description: str
    columns: tuple[str, ...]
    cases: Callable[[bool], list[Case]]
    report: Callable[[list[dict[str, str]], Path], list[Path]]
    execute: Callable[[Case], dict[str, Any]]


def _worker(execute: Callable[[Case], dict[str, Any]], case: Case) -> dict[str, Any]:
    try:
        return execute(case)
    except Exception as exc:  # recorded in the row, the sweep goes on
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "trace": traceback.format_exc(limit=3),
        }


def _guarded(execute: Callable[[Case], dict[str, Any]], case: Case) -> dict[str, Any]:
    """Run one case in a fresh process; kill it when it overruns its time limit by far."""
    guard = 3 * (case.time_limit or 60) * max(case.repeats, 1) + 60
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        pending = pool.apply_async(_worker, (execute, case))
        try:
            return pending.get(timeout=guard)
        except mp.TimeoutError:
            pool.terminate()
            return {"status": "killed", "error": f"wall-clock guard of {guard:.0f} s hit"}


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def run_suite(
    suite: Suite,
    out_dir: Path,
    *,
    fresh: bool = False,
    quick: bool = False,
    console: Console | None = None,
    isolate: bool = True,
) -> list[Path]:
    """Run (or resume) a suite into ``out_dir``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "results.csv"
    if fresh:
        csv_path.unlink(missing_ok=True)
    done = {tuple(row.get(k, "") for k in KEY_FIELDS) for row in read_rows(csv_path)}
    cases = [c for c in suite.cases(quick) if c.key not in done]
    columns = (*KEY_FIELDS, *suite.columns, *RUNNER_FIELDS)
    new_file = not csv_path.exists()
    with (
        csv_path.open("a", newline="") as fh,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        ) as progress,
    ):
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        if new_file:
            writer.writeheader()
        task = progress.add_task(f"{suite.name}", total=len(cases))
        for case in cases:
            progress.update(task, description=f"{suite.name}: {case.instance} / {case.method}")
            t0 = time.perf_counter()
            row = _guarded(suite.execute, case) if isolate else _worker(suite.execute, case)
            row.setdefault("wall_time", time.perf_counter() - t0)
            writer.writerow({**dict(zip(KEY_FIELDS, case.key)), **_flatten(case), **row})
            fh.flush()
            progress.advance(task)
    return [csv_path, *suite.report(read_rows(csv_path), out_dir)]


def _flatten(case: Case) -> dict[str, Any]:
    return {"time_limit": case.time_limit, "threads": case.threads, "seed": case.seed}


def rows_by_case(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, dict[str, str]]]:
    """Rows grouped as (group, instance) → method → row, in the order they were written."""
    table: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    for row in rows:
        table.setdefault((row["group"], row["instance"]), {})[row["method"]] = row
    return table


def as_float(value: Any) -> float:
    """A CSV cell as a float; NaN when empty or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
