"""The paper's alternation: convex allocation (CVXPY/Clarabel) ⇄ PCCP partition step.

Each partition vector's allocation is the convex solver's, settled onto exact clocks (KKT);
where the solver gives no usable point the exact allocation decides, so a partition is
called infeasible only when it is, and the instance only when the vector needing the least
bandwidth is (then every vector is). The loop stops when the energy no longer drops. It is
labelled LOCALLY_SOLVED only when that stop is the method's own convergence, with every
PCCP run of the last partition step settled; an LP the solver failed, a PCCP run stopped at
its cap, the outer cap and the clock are labelled as what they are.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from optsplit.formulations.robust import allocation, kkt, pccp
from optsplit.formulations.robust.data import RobustData
from optsplit.result import Termination
from optsplit.solvers.options import SolveOptions
from optsplit.tolerances import OBJECTIVE_RELATIVE

if TYPE_CHECKING:
    from optsplit.formulations.robust.lagrangian import LagrangianRun

log = logging.getLogger(__name__)

MAX_OUTER = 50
MAX_POLISH_CANDIDATES = 400
MAX_PAIR_CANDIDATES = 20000  # two-device moves are screened only while there are at most this many
SCREENED = 8  # candidates re-allocated exactly after coarse screening
PRICE_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
IMPROVEMENT = 1e-9  # a relative energy drop smaller than this is no improvement

Incumbent = tuple[float, np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Run:
    """What the alternation found and why it stopped."""

    best: Incumbent | None
    termination: Termination
    lines: list[str] = field(default_factory=list)
    iterations: list[dict[str, Any]] = field(default_factory=list)
    pccp_iterations: int = 0
    fallbacks: int = 0  # allocations the convex solver failed, allocated exactly (KKT) instead
    lagrangian_start: bool = False  # the Lagrangian plan replaced the alternation's incumbent


@dataclass
class Allocated:
    """One partition vector's allocation: energy (J), clocks, bandwidths, bandwidth price."""

    energy: float
    f: np.ndarray
    b: np.ndarray
    price: float | None
    note: str | None = None
    solver_failed: bool = False  # the convex solver gave no usable point


def allocate(
    ra: allocation.AllocationProblem, data: RobustData, parts: np.ndarray, options: SolveOptions
) -> Allocated | None:
    """The allocation of ``parts``: the convex solver's, settled exactly, or the exact (KKT)
    one when that is cheaper or the solver gives no point that can be settled (a failure, a
    limit, a point off its constraints); None only when the exact allocation finds ``parts``
    infeasible and the solver's point cannot be settled either."""
    ra.set_partition(data, parts)
    out, _f, b, price = allocation.solve(ra, options)
    exact = kkt.allocate(data, parts[None, :])
    settled = kkt.settle(data, parts, b) if b is not None else None
    if settled is not None and settled.feasible[0]:
        if not (exact.feasible[0] and exact.energy[0] < settled.energy[0]):
            return Allocated(float(settled.energy[0]), settled.f[0], settled.b[0], price)
        if exact.energy[0] >= settled.energy[0] * (1 - OBJECTIVE_RELATIVE):  # within its tolerance
            return Allocated(float(exact.energy[0]), exact.f[0], exact.b[0], price)
    if not exact.feasible[0]:
        return None
    if b is None:
        what = f"gave {out.termination.value}"
    elif settled is not None and not settled.feasible[0]:
        what = f"gave a point ({out.termination.value}) that cannot be settled"
    else:
        what = f"was inaccurate ({out.termination.value}, {settled.energy[0] if settled else 0:.9g} J)"
    note = f"CVXPY/Clarabel {what}: allocated exactly (KKT)"
    return Allocated(float(exact.energy[0]), exact.f[0], exact.b[0], float(exact.price[0]), note, True)


def _cheapest(
    data: RobustData, candidates: list[np.ndarray], price: float | None
) -> tuple[np.ndarray, float] | None:
    """The candidate partition vector with the lowest exact (KKT) energy, if any is feasible:
    all screened with the price hint, the cheapest then allocated in full."""
    screened = kkt.allocate(data, np.array(candidates), price_hint=price, coarse=True)
    if not screened.feasible.any():
        return None
    best = candidates[int(np.argmin(screened.energy))]
    exact = kkt.allocate(data, best[None, :], price_hint=price)
    return (best, float(exact.energy[0])) if exact.feasible[0] else None


@dataclass
class Step:
    """A partition step's proposal (None: nothing feasible and new), its PCCP iterations and
    the failures of its PCCP runs."""

    parts: np.ndarray | None
    iterations: int
    failures: list[pccp.PccpRun]


def partition_step(
    lp: pccp.PartitionLP,
    data: RobustData,
    b: np.ndarray,
    price: float | None,
    settings: pccp.PccpSettings,
    options: SolveOptions,
    current: np.ndarray,
    current_energy: float,
) -> Step:
    """PCCP partitions at the current bandwidths and at a sweep of bandwidth prices around the
    allocation's dual price; the one whose exact allocation is cheapest is proposed. If none
    improves on the current energy (the devices' moves may conflict over bandwidth), each
    proposed move is tried on its own."""
    prices: list[float | None] = [None]
    if price is not None and price > 0:
        prices += [price * k for k in PRICE_FACTORS]
    candidates: list[np.ndarray] = []
    inner = 0
    failures = []
    for p in prices:
        run = pccp.partition(lp, data, b, p, settings, options)
        inner += run.iterations
        if not run.converged:
            failures.append(run)
        cand = run.parts
        if not np.array_equal(cand, current) and not any(np.array_equal(cand, c) for c in candidates):
            candidates.append(cand)
    if not candidates:
        return Step(None, inner, failures)
    best = _cheapest(data, candidates, price)
    if best is not None and best[1] < current_energy * (1 - IMPROVEMENT):
        return Step(best[0], inner, failures)
    singles: list[np.ndarray] = []
    for cand in candidates:
        for n in np.flatnonzero(cand != current):
            single = current.copy()
            single[n] = cand[n]
            if not any(np.array_equal(single, c) for c in singles):
                singles.append(single)
    alone = _cheapest(data, singles, price) if singles else None
    found = [x for x in (best, alone) if x is not None]
    return Step(min(found, key=lambda x: x[1])[0] if found else None, inner, failures)


def _stop_reason(failures: list[pccp.PccpRun]) -> Termination:
    """LOCALLY_SOLVED when the last step's PCCP runs all settled; else what stopped them."""
    if not failures:
        return Termination.LOCALLY_SOLVED
    if any(run.termination is Termination.NUMERICAL_ERROR for run in failures):
        return Termination.NUMERICAL_ERROR
    return Termination.ITERATION_LIMIT


def alternate(
    data: RobustData, options: SolveOptions, settings: pccp.PccpSettings, backend: Any = "cvxpy-clarabel"
) -> Run:
    """Alternate allocation (on ``backend``) and partition steps from PCCP's first partition."""
    t0 = time.perf_counter()
    limit = options.time_limit  # applies to the whole loop; each small inner solve runs free
    options = replace(options, time_limit=None)
    ra = allocation.build(data)
    ra.backend = backend
    lp = pccp.build(data)
    b = np.full(len(data.devices), data.bandwidth / len(data.devices))
    first = pccp.partition(lp, data, b, None, settings, options)
    parts: np.ndarray = first.parts
    inner = first.iterations
    failures = [] if first.converged else [first]
    run = Run(None, Termination.ITERATION_LIMIT)  # unless the loop ends by itself
    visited: list[np.ndarray] = []
    for outer in range(1, MAX_OUTER + 1):
        # the limit stops the loop once a plan exists, never before: limits never lose work
        if run.best is not None and limit is not None and time.perf_counter() - t0 > limit:
            run.termination = Termination.TIME_LIMIT
            break
        visited.append(parts.copy())
        found = allocate(ra, data, parts, options)
        if found is None:
            _say(run, f"outer {outer}: partition {parts.tolist()} admits no allocation")
            fallback = pccp.least_bandwidth_partition(data)
            if run.best is None and np.array_equal(fallback, parts):
                run.termination = Termination.INFEASIBLE  # the least demanding vector fails: all do
                break
            if run.best is not None:
                run.termination = _stop_reason(failures)
                break
            parts = fallback  # restart from the partition needing the least bandwidth
            continue
        if found.note:
            _say(run, f"outer {outer}: {found.note}")
        run.fallbacks += found.solver_failed
        improved = run.best is None or found.energy < run.best[0] * (1 - IMPROVEMENT)
        if improved:
            run.best = (found.energy, parts.copy(), found.f, found.b)
        run.iterations.append(
            {
                "outer_iteration": outer,
                "energy": found.energy,
                "pccp_iterations": inner,
                "partition": parts.tolist(),
                "elapsed": time.perf_counter() - t0,
            }
        )
        shown = parts.tolist()
        _say(run, f"outer {outer}: energy {found.energy:.6g} J, PCCP iterations {inner}, partition {shown}")
        if not improved:
            run.termination = _stop_reason(failures)
            break
        step = partition_step(lp, data, found.b, found.price, settings, options, parts, found.energy)
        inner, failures = step.iterations, step.failures
        for bad in failures:
            _say(run, f"outer {outer}: {bad.failure}")
        if step.parts is None:
            run.termination = _stop_reason(failures)
            break
        parts = step.parts
    else:
        _say(run, f"stopped at the cap of {MAX_OUTER} outer iterations")
    run.pccp_iterations = len(lp.iterations)
    if run.best is not None:
        run.best = _exact(data, run.best, visited, run)
    return run


def _exact(data: RobustData, best: Incumbent, visited: list[np.ndarray], run: Run) -> Incumbent:
    """The exact (KKT) allocation of the cheapest partition vector visited, whatever the
    convex solver made of it: a settled interior point is only within the solver's tolerance
    of feasibility and of the optimum, and a vector whose solver allocation failed or was
    inaccurate may be the best one. The settled incumbent stays only if no visited vector
    has an exact allocation."""
    exact = kkt.allocate(data, np.array(visited))
    j = int(np.argmin(exact.energy))
    if not exact.feasible[j]:
        return best
    _say(run, f"exact allocation of partition {visited[j].tolist()}: energy {exact.energy[j]:.9g} J")
    return float(exact.energy[j]), visited[j].copy(), exact.f[j], exact.b[j]


def _neighbours(current: np.ndarray, sizes: list[int], pairs: bool) -> np.ndarray:
    """Every vector differing from ``current`` in one device's split point, and with ``pairs``
    also those differing in two devices' (a device leaving the link frees bandwidth that only
    another device's move can use)."""
    rows = []
    for n, size in enumerate(sizes):
        block = np.repeat(current[None, :], size, axis=0)
        block[:, n] = np.arange(size)
        rows.append(block)
        if pairs:
            for k in range(n):
                grid = np.repeat(current[None, :], size * sizes[k], axis=0)
                grid[:, n] = np.repeat(np.arange(size), sizes[k])
                grid[:, k] = np.tile(np.arange(sizes[k]), size)
                rows.append(grid)
    return np.unique(np.concatenate(rows), axis=0)


def polish(
    data: RobustData,
    best: Incumbent,
    run: Run,
    t0: float,
    capped: bool = True,
    time_limit: float | None = None,
) -> Incumbent:
    """Local search: move one device's split point (or two devices' on small instances) at a
    time; candidates screened coarsely, the best few allocated exactly (KKT); repeat while
    the energy drops. ``capped`` skips it beyond MAX_POLISH_CANDIDATES single moves; past
    ``time_limit`` seconds from t0 it stops with the best vector so far (run.termination says so)."""
    sizes = [d.num_points for d in data.devices]
    if capped and sum(sizes) > MAX_POLISH_CANDIDATES:
        _say(run, f"polish skipped: {sum(sizes)} candidates > {MAX_POLISH_CANDIDATES}")
        return best
    pair_count = (sum(sizes) ** 2 - sum(s * s for s in sizes)) // 2
    pairs = pair_count <= MAX_PAIR_CANDIDATES
    while True:
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            run.termination = Termination.TIME_LIMIT
            _say(run, f"local search stopped at the time limit of {time_limit:g} s")
            return best
        candidates = _neighbours(best[1], sizes, pairs)
        screened = kkt.allocate(data, candidates, coarse=True)
        order = np.argsort(screened.energy)[:SCREENED]
        order = order[np.isfinite(screened.energy[order])]
        if not order.size:
            return best
        alloc = kkt.allocate(data, candidates[order])
        j = int(np.argmin(alloc.energy))
        if not alloc.energy[j] < best[0] * (1 - IMPROVEMENT):
            return best
        best = (float(alloc.energy[j]), candidates[order[j]].copy(), alloc.f[j], alloc.b[j])
        run.iterations.append(
            {
                "polish": True,
                "energy": best[0],
                "partition": best[1].tolist(),
                "elapsed": time.perf_counter() - t0,
            }
        )
        _say(run, f"polish: energy {best[0]:.6g} J, partition {best[1].tolist()}")


def adopt_if_cheaper(run: Run, dual: LagrangianRun) -> bool:
    """Take the Lagrangian plan when it beats the alternation's after its local search (many
    devices: the alternation stalls, 10 % above the bound at 300); True if taken. The plan is
    then no PCCP fixed point, so no local optimality is claimed."""
    if dual.parts is None or dual.allocation is None or run.termination is Termination.INFEASIBLE:
        return False
    energy = float(dual.allocation.energy[0])
    if run.best is not None and energy >= run.best[0] * (1 - IMPROVEMENT):
        return False
    before = "no plan" if run.best is None else f"{run.best[0]:.9g} J"
    _say(
        run,
        f"the Lagrangian plan is cheaper ({energy:.9g} J, alternation: {before}): the search starts there",
    )
    run.best = (energy, dual.parts.copy(), dual.allocation.f[0], dual.allocation.b[0])
    run.lagrangian_start = True
    if run.termination is Termination.LOCALLY_SOLVED:
        run.termination = Termination.HEURISTIC
    return True


def _say(run: Run, line: str) -> None:
    run.lines.append(line)
    log.info(line)
