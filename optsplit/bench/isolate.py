"""Run one benchmark case: in this process, or in a fresh child process under a wall-clock guard.

The guarded form is what a Dask worker executes, so the guard works the same on a
`LocalCluster` and on a remote cluster: the worker only waits for its child, and kills it
when the case overruns. A fresh process per case also keeps solver state (thread pools,
licences, caches) from leaking between cases.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optsplit.bench.runner import Case

Execute = Callable[["Case"], dict[str, Any]]

# Rows with these statuses did not finish their case; a resumed sweep runs them again.
RETRY_STATUSES = ("error", "killed")
REASON_CHARS = 600  # how much of a crashed child's stderr a row keeps


def run_case(execute: Execute, case: Case) -> dict[str, Any]:
    """Run a case here; an exception, or a failure the suite did not explain, becomes the row's reason."""
    t0 = time.perf_counter()
    try:
        row = execute(case)
    except Exception as exc:  # recorded in the row, the sweep goes on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        row = {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})",
        }
    if row.get("status") in RETRY_STATUSES and not row.get("error"):
        row["error"] = f"the suite returned status {row['status']} without a reason"
    row.setdefault("wall_time", time.perf_counter() - t0)
    return row


def run_isolated(execute: Execute, case: Case, cwd: str | None = None) -> dict[str, Any]:
    """Run a case in a fresh child process (in ``cwd`` when it exists); kill it at the guard."""
    import cloudpickle

    guard = case.guard
    with tempfile.TemporaryDirectory(prefix="optsplit-case-") as tmp:
        task, answer = Path(tmp, "case.pkl"), Path(tmp, "row.pkl")
        task.write_bytes(cloudpickle.dumps((execute, case)))
        try:
            done = subprocess.run(
                [sys.executable, "-m", "optsplit.bench.child", str(task), str(answer)],
                cwd=cwd if cwd and os.path.isdir(cwd) else None,
                env=_child_env(),
                capture_output=True,
                timeout=guard,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"status": "killed", "error": f"wall-clock guard of {guard:.0f} s hit"}
        if answer.exists():
            row: dict[str, Any] = pickle.loads(answer.read_bytes())
            return row
    stderr = done.stderr.decode(errors="replace").strip()[-REASON_CHARS:]
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return {"status": "killed", "error": f"case process ended by {name}. {stderr}".strip()}
    return {"status": "error", "error": f"case process exited with code {done.returncode}. {stderr}".strip()}


def _child_env() -> dict[str, str]:
    """This environment, with this process's optsplit first on the child's import path."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env
