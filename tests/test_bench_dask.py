"""Sweeps and Monte Carlo checks on a Dask cluster: same rows and counts as the local path."""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from conftest import INSTANCES

import optsplit
from optsplit.bench import Case, Suite, run_suite, suites
from optsplit.formulations.robust.simulate import simulate

distributed = pytest.importorskip("distributed")
# the toy suite below is sent to workers and case processes by value: they cannot import tests
cloudpickle.register_pickle_by_value(sys.modules[__name__])

NAMES = ("fine", "raises", "hangs")
# columns that depend on the machine's speed, not on the case
TIMINGS = {"runtime", "build_time", "wall_time"}


@pytest.fixture(scope="module")
def scheduler():
    """The address of a running two-worker cluster, as `--scheduler` would be given."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def _rows(path: Path) -> list[dict[str, str]]:
    with (path / "results.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _toy(flag: Path) -> Suite:
    """'raises' fails and 'hangs' never ends (its guard: 1 s) until ``flag`` exists."""

    def cases(quick: bool) -> list[Case]:
        guard = None if flag.exists() else 1.0
        return [
            Case(
                "g",
                name,
                "m",
                {"flag": str(flag)},
                "none",
                wall_clock_guard=guard if name == "hangs" else None,
            )
            for name in NAMES
        ]

    def execute(case: Case) -> dict[str, Any]:
        ready = Path(case.spec["flag"]).exists()
        if case.instance == "raises" and not ready:
            raise RuntimeError("not yet")
        while case.instance == "hangs" and not Path(case.spec["flag"]).exists():
            time.sleep(0.05)
        return {"status": "optimal", "pid": os.getpid()}

    def report(rows: list[dict[str, str]], out_dir: Path) -> list[Path]:
        return []

    return Suite("toy", "test suite", ("status", "pid"), cases, report, execute)


def test_guard_kills_a_case_and_failed_rows_run_again_on_a_local_cluster(tmp_path) -> None:
    flag = tmp_path / "ready"
    run_suite(_toy(flag), tmp_path, workers=2)
    first = {r["instance"]: r for r in _rows(tmp_path)}
    assert set(first) == set(NAMES)
    assert first["fine"]["status"] == "optimal"
    assert first["raises"]["status"] == "error" and first["raises"]["error"].startswith(
        "RuntimeError: not yet"
    )
    assert first["hangs"]["status"] == "killed" and first["hangs"]["error"] == "wall-clock guard of 1 s hit"
    flag.touch()
    run_suite(_toy(flag), tmp_path, workers=2)
    again = {r["instance"]: r for r in _rows(tmp_path)}
    assert len(_rows(tmp_path)) == 3 and again["fine"] == first["fine"]
    assert all(r["status"] == "optimal" and r["error"] == "" for r in again.values())
    pids = {r["pid"] for r in again.values()}
    assert len(pids) == 3 and str(os.getpid()) not in pids  # a fresh process per case


@pytest.mark.slow
def test_routing_sweep_on_a_cluster_resumes_to_the_local_rows(tmp_path, scheduler) -> None:
    suite = suites()["routing"]
    run_suite(suite, tmp_path / "local", quick=True, isolate=False)
    run_suite(suite, tmp_path / "dask", quick=True, scheduler=scheduler, limit=2)  # interrupted
    cut = _rows(tmp_path / "dask")
    assert sorted((r["instance"], r["method"]) for r in cut) == sorted(
        (c.instance, c.method) for c in suite.cases(True)[:2]
    )
    paths = run_suite(suite, tmp_path / "dask", quick=True, scheduler=scheduler)
    assert {p.name for p in paths} == {"results.csv", "README.md", "runtime.png"}

    def steady(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
        return {(r["instance"], r["method"]): {k: v for k, v in r.items() if k not in TIMINGS} for r in rows}

    local, remote = steady(_rows(tmp_path / "local")), steady(_rows(tmp_path / "dask"))
    assert len(remote) == len(suite.cases(True)) == 6
    assert remote == local
    assert all(r["status"] == "optimal" and r["check_ok"] == "True" for r in remote.values())


def test_simulation_on_a_cluster_counts_as_the_local_path(scheduler) -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-3dev.toml")
    plan = optsplit.solve(inst, "robust", "gaussian").plan
    here = simulate(inst, plan, 30_000, 11, chunk=3_000)
    with distributed.Client(scheduler) as client:
        there = simulate(inst, plan, 30_000, 11, chunk=3_000, client=client)
    assert there.misses == here.misses
    assert sum(laws["two-point"] for laws in here.misses.values()) > 0
