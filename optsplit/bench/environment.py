"""What a benchmark table must record: machine, library and solver versions."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version

from optsplit.machine import cpu_model


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def describe() -> dict[str, str]:
    """Machine and versions, as key → text, for the header of every table."""
    import highspy
    import pyscipopt

    info = {
        "date (UTC)": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "optsplit": _version("optsplit"),
        "HiGHS": f"{highspy.Highs().version()} (highspy {_version('highspy')})",
        "SCIP": f"{pyscipopt.Model().version()} (PySCIPOpt {_version('pyscipopt')})",
    }
    for package in ("numpy", "scipy", "networkx", "pyomo", "cvxpy", "clarabel"):
        info[package] = _version(package)
    return info
