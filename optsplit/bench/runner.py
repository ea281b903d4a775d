"""Run benchmark cases, one CSV row each, on a Dask cluster (or in this process for tests).

Each case runs in a fresh child process under a wall-clock guard (`optsplit.bench.isolate`),
started by a Dask worker: of a `LocalCluster` of ``workers`` single-thread processes (one
by default, so cases run one at a time and timings are undisturbed), or of the cluster whose
scheduler address is given. Rows are appended and flushed as cases finish, so an
interrupted sweep resumes from the CSV: cases with a finished row are skipped; rows that
ended in error, were killed, or were cut off mid-write are dropped (the file rewritten
atomically) and their cases run again. Reports read one row per case, the latest.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from optsplit.bench.isolate import RETRY_STATUSES, run_case, run_isolated

if TYPE_CHECKING:
    from optsplit.result import Result

logger = logging.getLogger(__name__)

KEY_FIELDS = ("group", "instance", "method", "backend")
# Columns the runner fills for every suite, after the suite's own.
RUNNER_FIELDS = ("time_limit", "threads", "seed", "wall_time", "error")
LOG_LINES = 3  # lines of a solver log a failed row keeps when no line says ERROR


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
    threads: int | None = 1  # None: the solver's default
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    wall_clock_guard: float | None = None  # None: derived from the time limit and repeats

    @property
    def key(self) -> tuple[str, ...]:
        return (self.group, self.instance, self.method, self.backend)

    @property
    def guard(self) -> float:
        """Seconds after which the case's process is killed: 3x its time budget plus a minute."""
        if self.wall_clock_guard is not None:
            return self.wall_clock_guard
        return 3 * (self.time_limit or 60) * max(self.repeats, 1) + 60


@dataclass(frozen=True)
class Suite:
    """A named set of cases, their CSV columns and the report written from the rows."""

    name: str
    description: str
    columns: tuple[str, ...]
    cases: Callable[[bool], list[Case]]
    report: Callable[[list[dict[str, str]], Path], list[Path]]
    execute: Callable[[Case], dict[str, Any]]


Outcomes = Generator[tuple[Case, dict[str, Any]], None, None]


def failure_reason(result: Result) -> str:
    """Why a solve ended in error: its explanation, else its log's ERROR lines, else the log's tail."""
    if result.explanation:
        return result.explanation
    lines = [line.strip() for line in result.log.splitlines() if line.strip()]
    errors = [line for line in lines if line.upper().startswith("ERROR")]
    if errors or lines:
        return " | ".join(errors or lines[-LOG_LINES:])
    return f"termination {result.termination.value}, no explanation and an empty log"


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def latest_rows(rows: list[dict[str, str]], cases: Sequence[Case] = ()) -> list[dict[str, str]]:
    """One row per case key, the last written; in the order of ``cases``, then of the file."""
    latest = {_key(row): row for row in rows}
    order = {case.key: i for i, case in enumerate(cases)}
    return sorted(latest.values(), key=lambda row: order.get(_key(row), len(order)))


def run_suite(
    suite: Suite,
    out_dir: Path,
    *,
    fresh: bool = False,
    quick: bool = False,
    console: Console | None = None,
    isolate: bool = True,
    scheduler: str | None = None,
    workers: int = 1,
    limit: int | None = None,
) -> list[Path]:
    """Run (or resume) a suite into ``out_dir``; returns the files written.

    Cases go to the Dask scheduler at ``scheduler``, else to a `LocalCluster` of ``workers``
    single-thread processes; ``isolate=False`` runs them in this process instead (tests).
    ``limit`` runs at most that many of the pending cases, in suite order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "results.csv"
    if fresh:
        csv_path.unlink(missing_ok=True)
    columns = (*KEY_FIELDS, *suite.columns, *RUNNER_FIELDS)
    done = {_key(row) for row in _finished_rows(csv_path, columns)}
    cases = [c for c in suite.cases(quick) if c.key not in done][:limit]
    if cases:
        outcomes = _here(suite, cases) if not isolate else _on_cluster(suite, cases, scheduler, workers)
        with closing(outcomes):
            _write(csv_path, columns, suite.name, len(cases), outcomes, console)
    rows = latest_rows(read_rows(csv_path), suite.cases(quick))
    return [csv_path, *suite.report(rows, out_dir)]


def _here(suite: Suite, cases: list[Case]) -> Outcomes:
    for case in cases:
        yield case, run_case(suite.execute, case)


def _on_cluster(suite: Suite, cases: list[Case], scheduler: str | None, workers: int) -> Outcomes:
    """Submit every case as a future; yield (case, row) as they complete."""
    from distributed import as_completed

    from optsplit.bench.cluster import connect

    with connect(scheduler, workers) as client:
        futures = {
            client.submit(run_isolated, suite.execute, case, os.getcwd(), pure=False): case for case in cases
        }
        try:
            for future in as_completed(futures):
                try:
                    row = future.result()
                except Exception as exc:  # the task itself failed (worker lost, …): record why
                    row = {"status": "error", "error": f"Dask task failed: {type(exc).__name__}: {exc}"}
                yield futures[future], row
        finally:
            client.cancel(list(futures))


def _write(
    csv_path: Path,
    columns: tuple[str, ...],
    name: str,
    total: int,
    outcomes: Iterator[tuple[Case, dict[str, Any]]],
    console: Console | None,
) -> None:
    """Append each row as it arrives, flushed, under a progress bar."""
    new_file = not csv_path.exists() or csv_path.stat().st_size == 0
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
        task = progress.add_task(name, total=total)
        for case, row in outcomes:
            writer.writerow({**dict(zip(KEY_FIELDS, case.key)), **_flatten(case), **row})
            fh.flush()
            progress.update(task, advance=1, description=f"{name}: {case.instance} / {case.method}")


def _finished_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The CSV's finished rows, one per case; the file is rewritten atomically (with
    ``columns`` as header) when it held anything else: error, killed, cut-off or repeated rows."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        header = tuple(reader.fieldnames or ())
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        cut = fh.read(1) != b"\n"
    if cut and rows:
        rows.pop()  # the process writing it was killed mid-line
    kept = list({_key(row): row for row in rows if _finished(row)}.values())
    if cut or len(kept) != len(rows) or header != columns:
        logger.info("%s: %d row(s) dropped to run again", path, len(rows) - len(kept) + cut)
        _replace(path, columns, kept)
    return kept


def _finished(row: dict[Any, Any]) -> bool:
    """A whole row (no missing or extra cells) whose case ended, not in error."""
    complete = None not in row and None not in row.values()
    return complete and row.get("status") not in (*RETRY_STATUSES, "")


def _replace(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    """Write ``rows`` to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore", restval="")
            writer.writeheader()
            writer.writerows(rows)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _key(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row.get(k) or "" for k in KEY_FIELDS)


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
