"""What a benchmark table must record: machine, library and solver versions, threads, seeds."""

from __future__ import annotations

import os
import platform
from collections import Counter
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version

from optsplit.machine import cpu_model


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _highs_version() -> str:
    """HiGHS' version from highspy's constants: creating a Highs object would print its banner."""
    import highspy

    parts = [getattr(highspy, f"HIGHS_VERSION_{part}", None) for part in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(str(p) for p in parts) if None not in parts else "unknown"


def describe() -> dict[str, str]:
    """Machine and versions, as key → text, for the header of every table."""
    import pyscipopt

    info = {
        "date (UTC)": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "optsplit": _version("optsplit"),
        "HiGHS": f"{_highs_version()} (highspy {_version('highspy')})",
        "SCIP": f"{pyscipopt.Model().version()} (PySCIPOpt {_version('pyscipopt')})",
    }
    for package in ("numpy", "scipy", "networkx", "pyomo", "cvxpy", "clarabel"):
        info[package] = _version(package)
    return info


def header(rows: list[dict[str, str]]) -> list[str]:
    """A report's environment lines: where it was written, then what the rows themselves record."""
    lines = ["Machine and versions where this report was written:", ""]
    lines += [f"- {k}: {v}" for k, v in describe().items()]
    lines += [
        "",
        "Recorded in the rows (each row's solver version is in the table and `results.csv`):",
        "",
        f"- threads: {_tally(rows, 'threads')}",
        f"- seeds: {_tally(rows, 'seed')}",
        f"- solver versions: {_tally(rows, 'solver')}",
    ]
    return lines


def _tally(rows: list[dict[str, str]], column: str) -> str:
    """Distinct values of a column with their row counts, e.g. 'HiGHS 1.16.0 (12 rows)'."""
    counts = Counter(row.get(column) or "(none)" for row in rows)
    return ", ".join(f"{value} ({n} row{'s' * (n != 1)})" for value, n in sorted(counts.items())) or "-"
