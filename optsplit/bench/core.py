"""Benchmark suites of the core (not of a formulation): start-up time and the schedule engine.

`startup` times, in fresh processes, `import optsplit`, `optsplit --help`, `optsplit list` and a
Dijkstra solve, for the current tree and for an earlier commit of the repository given as a
case (extracted with `git archive`), so the table shows before and after.
`timeline` times the shared schedule engine (validate, earliest) on random 10³–10⁵-task schedules.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from optsplit.bench.environment import header
from optsplit.bench.runner import Case, Suite, as_float, markdown_table

BEFORE = "013baf3"  # the tree before lazy imports (the last landing of the previous session)
RUNS = 7
INSTANCE = "instances/routing/tiered-5-alexnet.toml"
COMMANDS: dict[str, list[str]] = {
    "import optsplit": ["-c", "import optsplit"],
    "optsplit --help": ["-m", "optsplit.cli", "--help"],
    "optsplit list": ["-m", "optsplit.cli", "list"],
    "optsplit solve -s dijkstra": ["-m", "optsplit.cli", "solve", INSTANCE, "-s", "dijkstra"],
}


def _startup_cases(quick: bool) -> list[Case]:
    trees = ("current",) if quick else ("current", BEFORE)
    return [
        Case("startup", tree, command, {"tree": tree}, "core", repeats=1 if quick else RUNS)
        for tree in trees
        for command in COMMANDS
    ]


def _extract(revision: str, into: str) -> str:
    """The package of ``revision`` extracted into ``into`` (a PYTHONPATH entry)."""
    into = str(Path(into) / "tree")
    archive = subprocess.run(["git", "archive", revision, "optsplit"], capture_output=True, check=True)
    with tempfile.TemporaryFile() as fh:
        fh.write(archive.stdout)
        fh.seek(0)
        with tarfile.open(fileobj=fh) as tar:
            tar.extractall(into, filter="data")
    return into


def _import_time(env: dict[str, str], cwd: str) -> float:
    """Cumulative `python -X importtime` figure of the top-level optsplit import (seconds)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import optsplit"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    match = re.search(r"\|\s*(\d+)\s*\|\s*optsplit\s*$", done.stderr, re.MULTILINE)
    return int(match.group(1)) / 1e6 if match else float("nan")


def _execute_startup(case: Case) -> dict[str, Any]:
    """Runs each command from an empty folder (the working directory would otherwise shadow the
    tree under test on sys.path) with the instance given by absolute path."""
    with tempfile.TemporaryDirectory(prefix="optsplit-startup-") as tmp:
        env = dict(os.environ)
        tree = case.spec["tree"]
        env.pop("PYTHONPATH", None)  # the installed optsplit is the current tree
        if tree != "current":
            env["PYTHONPATH"] = _extract(tree, tmp)
        command = [str(Path(arg).resolve()) if arg == INSTANCE else arg for arg in COMMANDS[case.method]]
        walls = []
        for _ in range(case.repeats):
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, *command], env=env, cwd=tmp, capture_output=True, text=True
            )
            walls.append(time.perf_counter() - t0)
            if done.returncode != 0:
                return {"status": "error", "error": done.stderr.strip()[-300:]}
        row: dict[str, Any] = {
            "status": "ok",
            "median_wall": statistics.median(walls),
            "min_wall": min(walls),
        }
        if case.method == "import optsplit":
            row["importtime"] = _import_time(env, tmp)
        return row


def _report_startup(rows: list[dict[str, str]], out_dir: Path) -> list[Path]:
    table = []
    for command in COMMANDS:
        cells: list[str] = [f"`{command}`"]
        for tree in ("current", BEFORE):
            row = next((r for r in rows if r["instance"] == tree and r["method"] == command), None)
            cells.append("-" if row is None else f"{as_float(row['median_wall']) * 1e3:.0f} ms")
        table.append(cells)
    imports = {r["instance"]: as_float(r.get("importtime")) for r in rows if r["method"] == "import optsplit"}
    lines = [
        "# Start-up time",
        "",
        f"Median wall time of {RUNS} fresh processes per command (`optsplit bench startup`), "
        f"the current tree against commit `{BEFORE}` (before back-ends were imported lazily).",
        "",
        markdown_table(["command", "now", f"before ({BEFORE})"], table),
        "",
        "`python -X importtime -c 'import optsplit'`, cumulative time of the `optsplit` import: "
        + ", ".join(f"{tree}: {value * 1e3:.0f} ms" for tree, value in imports.items()),
        "",
        *header(rows),
        "",
    ]
    path = out_dir / "README.md"
    path.write_text("\n".join(lines))
    return [path]


def _timeline_cases(quick: bool) -> list[Case]:
    sizes = (1_000,) if quick else (1_000, 10_000, 100_000)
    return [Case("engine", f"{n} tasks", "validate+earliest", {"tasks": n}, "core", repeats=5) for n in sizes]


def _execute_timeline(case: Case) -> dict[str, Any]:
    from optsplit.timeline.bench import measure

    runs = [measure(case.spec["tasks"], case.seed) for _ in range(case.repeats)]
    best = min(runs, key=lambda r: r["validate_time"])
    return {
        "status": "ok",
        "tasks": best["tasks"],
        "edges": best["edges"],
        "validate_time": min(r["validate_time"] for r in runs),
        "earliest_time": min(r["earliest_time"] for r in runs),
        "feasible": best["feasible"],
    }


def _report_timeline(rows: list[dict[str, str]], out_dir: Path) -> list[Path]:
    table = [
        [
            r["tasks"],
            r["edges"],
            f"{as_float(r['validate_time']) * 1e3:.2f} ms",
            f"{as_float(r['earliest_time']) * 1e3:.1f} ms",
            r["feasible"],
        ]
        for r in rows
    ]
    lines = [
        "# Schedule engine (`optsplit.timeline`)",
        "",
        "Best of 5 runs on random schedules (`optsplit.timeline.bench.random_problem`: 8 cores, a "
        "2-unit GPU, up- and downlink, a 4-block RB pool, ~2 edges per task). Target: validating a "
        "10⁴-task schedule in < 50 ms.",
        "",
        markdown_table(["tasks", "edges", "validate", "earliest (semi-active schedule)", "valid"], table),
        "",
        *header(rows),
        "",
    ]
    path = out_dir / "README.md"
    path.write_text("\n".join(lines))
    return [path]


SUITES = {
    "startup": Suite(
        "startup",
        "start-up time of import, --help, list and a Dijkstra solve, now and before lazy imports",
        ("median_wall", "min_wall", "importtime"),
        _startup_cases,
        _report_startup,
        _execute_startup,
    ),
    "timeline": Suite(
        "timeline",
        "the shared schedule engine: validate and earliest on 10³–10⁵ tasks",
        ("tasks", "edges", "validate_time", "earliest_time", "feasible"),
        _timeline_cases,
        _report_timeline,
        _execute_timeline,
    ),
}
