"""Random schedule problems of any size, and one timing of the engine on them (benchmark rows)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from optsplit.timeline.earliest import earliest
from optsplit.timeline.model import Timeline, TimelineBuilder
from optsplit.timeline.rates import RateProfile
from optsplit.timeline.validate import validate

CORES = 8
WINDOW = 64  # a task's predecessors are among the WINDOW tasks added just before it


def random_problem(n_tasks: int, seed: int = 0) -> Timeline:
    """A seeded DAG of ~2 edges per task on 8 cores, a 2-unit GPU, two FIFO links and a 4-block pool.

    One link in ten tasks' worth carries rate-profile transfers (slotted rate); tasks are
    added in a topological order, so every service order by insertion is acyclic.
    """
    rng = np.random.default_rng(seed)
    b = TimelineBuilder()
    for c in range(CORES):
        b.add_resource(f"core{c}", "compute", busy_power=2.0, idle_power=0.3)
    b.add_resource("gpu", "compute", capacity=2, busy_power=15.0, idle_power=2.0)
    b.add_resource("uplink", "link", busy_power=0.8)
    b.add_resource("downlink", "link", busy_power=0.1)
    b.add_resource("rbs", "link", capacity=4, busy_power=0.2)
    radio = RateProfile.slots(rng.uniform(1e3, 1e4, size=1000), 1e-3, after=5e6)
    kind = rng.choice(5, size=n_tasks, p=[0.6, 0.1, 0.1, 0.1, 0.1])  # core, gpu, uplink, downlink, rbs
    names = [f"t{i}" for i in range(n_tasks)]
    duration = rng.exponential(1e-3, size=n_tasks)
    release = np.where(rng.random(n_tasks) < 0.05, rng.uniform(0, 1e-4 * n_tasks, size=n_tasks), 0.0)
    resource = np.where(kind == 0, rng.integers(0, CORES, size=n_tasks), CORES + kind - 1)
    demand = np.where(kind == 4, rng.integers(1, 3, size=n_tasks), 1)
    rated = kind == 2
    fixed, moved = np.flatnonzero(~rated), np.flatnonzero(rated)
    # Bulk adds renumber tasks (fixed ones first); each resource still serves its tasks in
    # their original relative order, so insertion order stays acyclic with the edges.
    b.add_tasks(
        [names[i] for i in fixed],
        resource[fixed],
        duration[fixed],
        release=release[fixed],
        demand=demand[fixed],
    )
    b.add_transfers([names[i] for i in moved], "uplink", duration[moved] * 1e6, radio, release=release[moved])
    index = np.empty(n_tasks, dtype=np.int64)
    index[np.concatenate((fixed, moved))] = np.arange(n_tasks)
    succ = rng.integers(1, max(n_tasks, 2), size=2 * n_tasks) if n_tasks > 1 else np.zeros(0, np.int64)
    pred = np.maximum(succ - rng.integers(1, WINDOW + 1, size=succ.size), 0)
    lag = np.where(rng.random(succ.size) < 0.2, rng.uniform(0, 2e-4, size=succ.size), 0.0)
    b.add_edges(index[pred], index[succ], lag)
    return b.build()


def measure(n_tasks: int, seed: int = 0) -> dict[str, Any]:
    """One timing of ``earliest`` and ``validate`` on ``random_problem(n_tasks, seed)`` (seconds)."""
    tl = random_problem(n_tasks, seed)
    tic = time.perf_counter()
    starts = earliest(tl)
    mid = time.perf_counter()
    report = validate(tl, starts)
    end = time.perf_counter()
    return {
        "tasks": tl.n_tasks,
        "edges": int(tl.pred.size),
        "earliest_time": mid - tic,
        "validate_time": end - mid,
        "makespan": report.makespan,
        "feasible": report.feasible,
    }
