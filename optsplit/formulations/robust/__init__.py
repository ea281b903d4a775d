"""Formulation `robust` (Nan, Han, Zhou, Niu, arXiv 2503.21476): per device a partition
point, a local clock and an uplink bandwidth share; minimise total device energy subject to
Pr(latency ≤ D) ≥ 1 − ε knowing only the mean and variance of inference times (Cantelli).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from optsplit.errors import OptsplitError
from optsplit.evaluate.robust import evaluate_robust
from optsplit.formulations.robust import allocation, kkt, minlp, pccp
from optsplit.formulations.robust.data import RobustData, prepare
from optsplit.formulations.robust.explain import explain_infeasible
from optsplit.instance.model import Instance
from optsplit.problem import Evaluation, Method
from optsplit.result import Result, SolutionStatus, Termination
from optsplit.solvers.options import SolveOptions
from optsplit.solvers.pyomo_backend import solve_pyomo
from optsplit.solvers.registry import ModelKind
from optsplit.spec import Generator

if TYPE_CHECKING:
    from optsplit.bench.runner import Suite

log = logging.getLogger(__name__)

MAX_COMBINATIONS = 200_000
KEY = "robust"


def make_plan(
    data: RobustData, parts: list[int] | np.ndarray, f: np.ndarray | list[float], b: np.ndarray | list[float]
) -> dict[str, Any]:
    """Formulation-independent plan: per device the layers kept local, the clock, the bandwidth."""
    devices = []
    for d, dev, m, fi, bi in zip(
        data.devices,
        data.instance.robust.devices,  # type: ignore[union-attr]
        parts,
        f,
        b,
    ):
        devices.append(
            {
                "name": d.name,
                "partition": int(m),
                "local_layers": [layer.name for layer in dev.profile.layers[: int(m)]],
                "frequency": float(fi) if d.a[int(m)] > 0 else float(d.f_min),
                "bandwidth": float(bi) if d.bits[int(m)] > 0 else 0.0,
            }
        )
    return {"devices": devices, "margin_rule": data.margin_rule}


def _infeasible(
    data: RobustData, runtime: float, backend: str, log_text: str = "", parts: np.ndarray | None = None
) -> Result:
    return Result(
        KEY,
        "",
        Termination.INFEASIBLE,
        SolutionStatus.NO_SOLUTION,
        runtime=runtime,
        backend=backend,
        explanation=explain_infeasible(data, parts) or "no partition vector admits a feasible allocation",
        log=log_text,
    )


def run_enumerate(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """Exact reference: every partition vector, each with its optimal allocation (KKT)."""
    sizes = [d.num_points for d in data.devices]
    count = int(np.prod(sizes, dtype=float))
    if count > MAX_COMBINATIONS:
        raise OptsplitError(
            f"enumerate would try {count:.3g} partition vectors "
            f"(limit {MAX_COMBINATIONS}); use 'pccp' or 'scip'"
        )
    t0 = time.perf_counter()
    parts = np.array(list(itertools.product(*[range(s) for s in sizes])), dtype=int)
    alloc = kkt.allocate(data, parts)
    runtime = time.perf_counter() - t0
    if not alloc.feasible.any():
        return _infeasible(data, runtime, "numpy (KKT + golden section)")
    best = int(np.argmin(alloc.energy))
    plan = make_plan(data, parts[best], alloc.f[best], alloc.b[best])
    energy = float(alloc.energy[best])
    return Result(
        KEY,
        "",
        Termination.OPTIMAL,
        SolutionStatus.OPTIMAL,
        energy,
        energy,
        runtime,
        plan,
        {"partition_vectors": count, "feasible_vectors": int(alloc.feasible.sum())},
        "numpy (KKT + golden section)",
    )


def run_scip(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """The full MINLP, globally by SCIP through Pyomo."""
    t0 = time.perf_counter()
    model = minlp.build(data)
    build_time = time.perf_counter() - t0
    out = solve_pyomo(model, "scip", options)
    runtime = build_time + out.runtime
    if out.termination is Termination.INFEASIBLE:
        return _infeasible(data, runtime, out.solver, out.log)
    plan, objective = None, out.objective
    if out.has_solution:
        # SCIP's feasibility tolerance (1e-6, absolute) lets its point overrun a deadline by
        # about a microsecond; re-allocating SCIP's partition exactly (KKT) gives a plan that
        # meets every constraint, at an energy within SCIP's tolerance of its own figure.
        parts = np.array(minlp.read_plan(model, data)[0])
        exact = kkt.allocate(data, parts[None, :])
        if exact.feasible[0]:
            objective = float(exact.energy[0])
            plan = make_plan(data, parts, exact.f[0], exact.b[0])
        else:
            parts_, f, b = minlp.read_plan(model, data)
            plan = make_plan(data, parts_, f, b)
    return Result(
        KEY,
        "",
        out.termination,
        out.solution_status,
        objective,
        None if out.bound is None or objective is None else min(out.bound, objective),
        runtime,
        plan,
        {"build_time": build_time, "scip_objective": out.objective},
        out.solver,
        log=out.log,
    )


Incumbent = tuple[float, np.ndarray, np.ndarray, np.ndarray]
MAX_POLISH_CANDIDATES = 400


def _polish(
    data: RobustData, best: Incumbent, lines: list[str], iterations: list[dict[str, Any]], t0: float
) -> Incumbent:
    """1-opt local search: move one device's split point at a time, each candidate vector
    allocated exactly (KKT); repeat while the energy drops."""
    sizes = [d.num_points for d in data.devices]
    if sum(sizes) > MAX_POLISH_CANDIDATES:
        lines.append(f"polish skipped: {sum(sizes)} candidates > {MAX_POLISH_CANDIDATES}")
        return best
    while True:
        current = best[1]
        candidates = np.repeat(current[None, :], sum(sizes), axis=0)
        row = 0
        for n, size in enumerate(sizes):
            candidates[row : row + size, n] = np.arange(size)
            row += size
        alloc = kkt.allocate(data, candidates)
        j = int(np.argmin(alloc.energy))
        if not alloc.energy[j] < best[0] * (1 - 1e-9):
            return best
        best = (float(alloc.energy[j]), candidates[j].copy(), alloc.f[j], alloc.b[j])
        line = f"polish: energy {best[0]:.6g} J, partition {best[1].tolist()}"
        lines.append(line)
        iterations.append(
            {
                "polish": True,
                "energy": best[0],
                "partition": best[1].tolist(),
                "elapsed": time.perf_counter() - t0,
            }
        )
        log.info(line)


PRICE_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _partition_step(
    lp: pccp.PartitionLP,
    data: RobustData,
    b: np.ndarray,
    price: float | None,
    settings: pccp.PccpSettings,
    options: SolveOptions,
    current: np.ndarray,
    current_energy: float,
) -> tuple[np.ndarray | None, int]:
    """PCCP partitions at the current bandwidths and at a sweep of bandwidth prices around the
    allocation's dual price; the one whose exact allocation is cheapest is returned. If none
    improves on the current energy (the devices' moves may conflict over bandwidth), each
    proposed move is tried on its own. None when no candidate admits an allocation."""
    prices: list[float | None] = [None]
    if price is not None and price > 0:
        prices += [price * k for k in PRICE_FACTORS]
    candidates: list[np.ndarray] = []
    inner = 0
    for p in prices:
        cand, k = pccp.partition(lp, data, b, p, settings, options)
        inner += k
        if not np.array_equal(cand, current) and not any(np.array_equal(cand, c) for c in candidates):
            candidates.append(cand)
    if not candidates:
        return None, inner
    best = _cheapest(data, candidates, price)
    if best is not None and best[1] < current_energy * (1 - 1e-9):
        return best[0], inner
    singles: list[np.ndarray] = []
    for cand in candidates:
        for n in np.flatnonzero(cand != current):
            single = current.copy()
            single[n] = cand[n]
            if not any(np.array_equal(single, c) for c in singles):
                singles.append(single)
    alone = _cheapest(data, singles, price) if singles else None
    options_ = [x for x in (best, alone) if x is not None]
    return (min(options_, key=lambda x: x[1])[0] if options_ else None), inner


def _cheapest(
    data: RobustData, candidates: list[np.ndarray], price: float | None
) -> tuple[np.ndarray, float] | None:
    """The candidate partition vector with the lowest exact (KKT) energy, if any is feasible."""
    exact = kkt.allocate(data, np.array(candidates), price_hint=price)
    if not exact.feasible.any():
        return None
    i = int(np.argmin(exact.energy))
    return candidates[i], float(exact.energy[i])


def _pccp_pipeline(data: RobustData, options: SolveOptions, polish: bool = False) -> Result:
    """Alternate the convex allocation (CVXPY/Clarabel) and the PCCP partition step."""
    t0 = time.perf_counter()
    settings = pccp.PccpSettings(**options.extra.get("pccp", {}))
    limit = options.time_limit  # applies to the whole loop; each small inner solve runs free
    options = replace(options, time_limit=None, extra={k: v for k, v in options.extra.items() if k != "pccp"})
    ra = allocation.build(data)
    lp = pccp.build(data)
    b = np.full(len(data.devices), data.bandwidth / len(data.devices))
    parts, inner = pccp.partition(lp, data, b, None, settings, options)
    lines: list[str] = []
    iterations: list[dict[str, Any]] = []
    best: Incumbent | None = None
    stopped_by_clock = False
    for outer in range(1, 51):
        # the limit stops the loop once a plan exists, never before: limits never lose work
        if best is not None and limit is not None and time.perf_counter() - t0 > limit:
            stopped_by_clock = True
            break
        ra.set_partition(data, parts)
        out, f_new, b_new, price = allocation.solve(ra, options)
        if f_new is None or b_new is None or out.objective is None:
            line = f"outer {outer}: allocation for partition {parts.tolist()} is infeasible"
            lines.append(line)
            log.info(line)
            fallback = pccp.least_bandwidth_partition(data)
            if best is not None or np.array_equal(fallback, parts):
                break
            parts = fallback  # restart from the partition needing the least bandwidth
            continue
        settled = kkt.settle(data, parts, b_new)
        if settled.feasible[0]:  # exact clocks for the solver's bandwidths
            f_new, b_new = settled.f[0], settled.b[0]
        energy = float(settled.energy[0]) if settled.feasible[0] else float(out.objective)
        improved = best is None or energy < best[0] * (1 - 1e-9)
        if improved:
            best = (energy, parts.copy(), f_new, b_new)
        record = {
            "outer_iteration": outer,
            "energy": energy,
            "pccp_iterations": inner,
            "partition": parts.tolist(),
            "elapsed": time.perf_counter() - t0,
        }
        iterations.append(record)
        line = f"outer {outer}: energy {energy:.6g} J, PCCP iterations {inner}, partition {parts.tolist()}"
        lines.append(line)
        log.info(line)
        if not improved:
            break
        new_parts, inner = _partition_step(lp, data, b_new, price, settings, options, parts, energy)
        if new_parts is None:
            break
        parts = new_parts
    if polish and best is not None and not stopped_by_clock:
        best = _polish(data, best, lines, iterations, t0)
    runtime = time.perf_counter() - t0
    if best is None:
        res = _infeasible(data, runtime, "CVXPY/Clarabel + PCCP", "\n".join(lines))
        res.iterations = iterations
        return res
    energy, parts, f, b = best
    return Result(
        KEY,
        "",
        Termination.TIME_LIMIT if stopped_by_clock else Termination.LOCALLY_SOLVED,
        SolutionStatus.FEASIBLE,
        energy,
        None,
        runtime,
        make_plan(data, parts, f, b),
        {"outer_iterations": len(iterations), "pccp_iterations_total": len(lp.iterations)},
        "CVXPY/Clarabel + PCCP (HiGHS LPs)",
        log="\n".join(lines),
        iterations=iterations,
    )


def run_pccp(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    return _pccp_pipeline(data, options)


def run_pccp_polish(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    return _pccp_pipeline(data, options, polish=True)


def run_mean_only(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """Baseline that ignores the variance (k = 0): the non-robust design."""
    return _pccp_pipeline(data.with_margin("mean"), options)


def run_gaussian(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """Baseline with the Gaussian quantile Φ⁻¹(1 − ε) instead of Cantelli's factor."""
    return _pccp_pipeline(data.with_margin("gaussian"), options)


def _fixed_partition(data: RobustData, parts: np.ndarray, clock_at_max: bool) -> Result:
    t0 = time.perf_counter()
    alloc = kkt.allocate(data, parts[None, :])
    if not alloc.feasible[0]:
        return _infeasible(data, time.perf_counter() - t0, "numpy (KKT)", parts=parts)
    f = np.array([d.f_max for d in data.devices]) if clock_at_max else alloc.f[0]
    plan = make_plan(data, parts, f, alloc.b[0])
    evaluation = evaluate_robust(data.instance, plan)
    return Result(
        KEY,
        "",
        Termination.HEURISTIC,
        SolutionStatus.FEASIBLE,
        evaluation.objective,
        None,
        time.perf_counter() - t0,
        plan,
        {},
        "numpy (KKT)",
    )


def run_all_local(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """Baseline: every layer on the device, at f_max."""
    return _fixed_partition(data, np.array([d.num_points - 1 for d in data.devices]), True)


def run_all_offload(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """Baseline: everything on the server, bandwidth allocated optimally."""
    return _fixed_partition(data, np.zeros(len(data.devices), dtype=int), False)


class RobustFormulation:
    """Robust partitioning and resource allocation under uncertain inference time."""

    key = KEY
    title = "Robust DNN partitioning, CPU clock and bandwidth under uncertain inference time"
    reference = "Y. Nan, J. Han, S. Zhou, Z. Niu, arXiv 2503.21476 (IEEE TMC 25(3):3680-3696, 2026)"
    objective_name = "total device energy [J]"
    sense = "minimize"
    plan_legend = (
        "partition m = the first m layers run on the device, the rest on the server; "
        "frequency = device clock [Hz]; bandwidth = uplink share [Hz]"
    )
    default_method = "pccp"

    def methods(self) -> Mapping[str, Method]:
        return {
            "pccp": Method(
                "pccp",
                "paper's decomposition: convex allocation (CVXPY/Clarabel) "
                "alternating with penalty-CCP partitioning",
                "heuristic",
                run_pccp,
                (ModelKind.CVXPY,),
                "cvxpy-clarabel",
                nonlinear=True,
            ),
            "pccp-polish": Method(
                "pccp-polish",
                "pccp followed by a 1-opt local search over "
                "split points, each allocated exactly (optsplit's addition)",
                "heuristic",
                run_pccp_polish,
                (ModelKind.CVXPY,),
                "cvxpy-clarabel",
                nonlinear=True,
            ),
            "scip": Method(
                "scip",
                "full MINLP, global optimum by SCIP (small instances)",
                "exact",
                run_scip,
                (ModelKind.PYOMO,),
                "pyomo-scip",
                integers=True,
                nonlinear=True,
                writes_model=True,
            ),
            "enumerate": Method(
                "enumerate",
                "all partition vectors, each with its exact allocation (KKT, bandwidth price bisection)",
                "reference",
                run_enumerate,
            ),
            "all-local": Method(
                "all-local", "baseline: all layers local at f_max", "baseline", run_all_local
            ),
            "all-offload": Method(
                "all-offload", "baseline: all layers on the server", "baseline", run_all_offload
            ),
            "mean-only": Method(
                "mean-only", "baseline: ignores the variance (k = 0)", "baseline", run_mean_only
            ),
            "gaussian": Method(
                "gaussian", "baseline: Gaussian quantile instead of Cantelli", "baseline", run_gaussian
            ),
        }

    def prepare(self, instance: Instance) -> RobustData:
        return prepare(instance)

    def evaluate(self, instance: Instance, plan: Mapping[str, Any]) -> Evaluation:
        return evaluate_robust(instance, plan)

    def generators(self) -> Mapping[str, Generator]:
        from optsplit.formulations.robust.generate import generators

        return generators()

    def suites(self) -> Mapping[str, Suite]:
        from optsplit.formulations.robust.bench import SUITE

        return {SUITE.name: SUITE}
