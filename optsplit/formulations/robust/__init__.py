"""Formulation `robust` (Nan, Han, Zhou, Niu, arXiv 2503.21476): per device a partition
point, a local clock and an uplink bandwidth share; minimise total device energy subject to
Pr(latency ≤ D) ≥ 1 − ε knowing only the mean and variance of inference times (Cantelli).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from optsplit.errors import OptsplitError
from optsplit.formulations.robust import kkt
from optsplit.formulations.robust.data import RobustData, prepare
from optsplit.formulations.robust.evaluate import evaluate_robust
from optsplit.formulations.robust.explain import explain_infeasible
from optsplit.instance.model import Instance
from optsplit.problem import Evaluation, Method
from optsplit.result import Result, SolutionStatus, Termination, relative_gap
from optsplit.solvers.options import SolveOptions
from optsplit.solvers.registry import Backend, ModelKind, get_backend
from optsplit.spec import Generator, Section
from optsplit.tolerances import EXACT_AGREEMENT

if TYPE_CHECKING:
    from optsplit.bench.runner import Suite

MAX_COMBINATIONS = 200_000
KEY = "robust"
BACKEND = "CVXPY/Clarabel + PCCP (HiGHS LPs)"


def make_plan(
    data: RobustData, parts: list[int] | np.ndarray, f: np.ndarray | list[float], b: np.ndarray | list[float]
) -> dict[str, Any]:
    """Formulation-independent plan: per device the layers kept local, the clock, the bandwidth."""
    devices = []
    for d, dev, m, fi, bi in zip(
        data.devices,
        data.instance.section("robust").devices,
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
    """Exact reference: every partition vector, each with its optimal allocation (KKT); with
    clock tables, every vector of (partition point, table entry) pairs that may be optimal."""
    t0 = time.perf_counter()
    choices = kkt.clock_choices(data)
    sizes = [len(c) for c in choices]
    count = int(np.prod(sizes, dtype=float))
    if count > MAX_COMBINATIONS:
        raise OptsplitError(
            f"enumerate would try {count:.3g} partition vectors "
            f"(limit {MAX_COMBINATIONS}); use 'pccp' or 'scip'"
        )
    pairs = np.array(list(itertools.product(*choices)), dtype=int).reshape(count, len(sizes), 2)
    parts, levels = pairs[:, :, 0], pairs[:, :, 1]
    tables = any(d.clocks is not None for d in data.devices)
    alloc = kkt.allocate(data, parts, levels=levels if tables else None)
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


def run_scip(data: RobustData, backend: Any, options: SolveOptions) -> Result:
    """The full MINLP, globally by SCIP through Pyomo.

    SCIP's feasibility tolerance (1e-6, absolute, in units of the longest deadline) lets its
    point overrun a deadline by a millionth of it; SCIP's partition is re-allocated exactly
    (KKT), which gives a plan meeting every constraint at an energy within SCIP's tolerance of
    its own figure. Where that fails SCIP's own point is returned as what the evaluator finds
    it to be, never as optimal. The bound is SCIP's dual bound.
    """
    t0 = time.perf_counter()
    from optsplit.formulations.robust import minlp

    model = minlp.build(data)
    build_time = time.perf_counter() - t0
    solver = get_backend(backend or "pyomo-scip") if not isinstance(backend, Backend) else backend
    if solver.name == "pyomo-scip":
        options = replace(options, extra={**minlp.SCIP_SETTINGS, **options.extra})
    out = solver.solve(model, options)
    runtime = build_time + out.runtime
    if out.termination is Termination.INFEASIBLE:
        return _infeasible(data, runtime, out.solver, out.log)
    termination, solution = out.termination, out.solution_status
    plan, objective = None, None
    unit = minlp.energy_unit(data)  # the model's energies are in this unit, J
    scip_objective = None if out.objective is None else out.objective * unit
    bound = None if out.bound is None else out.bound * unit
    metrics: dict[str, Any] = {"build_time": build_time, "scip_objective": scip_objective}
    if out.has_solution:
        parts, f, b, levels = minlp.read_plan(model, data)
        tables = any(d.clocks is not None for d in data.devices)
        chosen = np.array(parts)[None, :]
        if tables:  # SCIP's table entries, fixed
            exact = kkt.allocate(data, chosen, levels=np.array(levels)[None, :])
        else:
            exact = kkt.allocate(data, chosen)
        if exact.feasible[0]:
            objective = float(exact.energy[0])
            plan = make_plan(data, parts, exact.f[0], exact.b[0])
        else:
            plan = make_plan(data, parts, f, b)
            evaluation = evaluate_robust(data.instance, plan)
            objective = evaluation.objective
            solution = SolutionStatus.FEASIBLE if evaluation.feasible else SolutionStatus.INFEASIBLE
            if termination is Termination.OPTIMAL:
                termination = Termination.ALMOST_OPTIMAL  # optimal only to SCIP's tolerance
            metrics["exact_reallocation"] = "failed: SCIP's own point, " + (
                "within the evaluator's tolerance"
                if evaluation.feasible
                else "; ".join(evaluation.violations)
            )
    return Result(
        KEY,
        "",
        termination,
        solution,
        objective,
        bound,
        runtime,
        plan,
        metrics,
        out.solver,
        log=out.log,
    )


def _pccp_pipeline(
    data: RobustData, options: SolveOptions, polish: bool = False, backend: Any = None
) -> Result:
    """The paper's alternation (optionally with the 1-opt polish) with the convex allocation on
    ``backend`` (default Clarabel through CVXPY), as a Result."""
    from optsplit.formulations.robust import alternate, pccp

    t0 = time.perf_counter()
    settings = pccp.PccpSettings(**options.extra.get("pccp", {}))
    options = replace(options, extra={k: v for k, v in options.extra.items() if k != "pccp"})
    run = alternate.alternate(data, options, settings, backend or "cvxpy-clarabel")
    limit = options.time_limit
    if run.best is not None and run.termination is not Termination.TIME_LIMIT:
        run.best = alternate.polish(data, run.best, run, t0, capped=not polish, time_limit=limit)
    dual = None
    if data.margin_rule == "cantelli":  # the relaxed baselines solve another problem: no bound
        from optsplit.formulations.robust import lagrangian

        dual = lagrangian.solve(data)  # its dual value is the bound, its plan a candidate
        taken = alternate.adopt_if_cheaper(run, dual)
        if taken and run.best is not None and run.termination is not Termination.TIME_LIMIT:
            run.best = alternate.polish(data, run.best, run, t0, capped=not polish, time_limit=limit)
    runtime = time.perf_counter() - t0
    if run.best is None:
        if run.termination is Termination.INFEASIBLE:
            res = _infeasible(data, runtime, BACKEND, "\n".join(run.lines))
        else:
            res = Result(
                KEY,
                "",
                run.termination,
                SolutionStatus.NO_SOLUTION,
                runtime=runtime,
                backend=BACKEND,
                log="\n".join(run.lines),
            )
        res.iterations = run.iterations
        return res
    energy, parts, f, b = run.best
    plan = make_plan(data, parts, f, b)
    # never hand out a plan that check refuses (the relaxed baselines' plans break Cantelli's
    # bound by design, so only the robust margin is checked)
    if data.margin_rule == "cantelli" and not evaluate_robust(data.instance, plan).feasible:
        exact = kkt.allocate(data, parts[None, :])
        energy, plan = float(exact.energy[0]), make_plan(data, parts, exact.f[0], exact.b[0])
        run.fallbacks += 1
    termination = run.termination
    if termination is Termination.LOCALLY_SOLVED and any(d.clocks is not None for d in data.devices):
        # clock tables: the allocation step is a relaxation settled onto table entries, not a
        # convex program solved to optimality, so no local optimality is claimed
        termination = Termination.HEURISTIC
    bound = None if dual is None else min(dual.bound, energy)  # the Lagrangian dual: proven
    runtime = time.perf_counter() - t0
    return Result(
        KEY,
        "",
        termination,
        SolutionStatus.FEASIBLE,
        energy,
        bound,
        runtime,
        plan,
        {
            "outer_iterations": sum("outer_iteration" in it for it in run.iterations),
            "pccp_iterations_total": run.pccp_iterations,
            "allocation_fallbacks": run.fallbacks,  # Clarabel failed or inaccurate: KKT used
            "lagrangian_start": run.lagrangian_start,  # the local search began at its plan
        },
        BACKEND,
        log="\n".join(run.lines),
        iterations=run.iterations,
    )


def run_pccp(data: RobustData, backend: Any, options: SolveOptions) -> Result:
    return _pccp_pipeline(data, options, backend=backend)


def run_pccp_polish(data: RobustData, backend: Any, options: SolveOptions) -> Result:
    return _pccp_pipeline(data, options, polish=True, backend=backend)


def run_lagrangian(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """Dual decomposition of the bandwidth budget: per-device problems at a price, a bisection
    on the price, the bracketing partitions allocated exactly; the dual value is the bound."""
    from optsplit.formulations.robust import lagrangian

    t0 = time.perf_counter()
    run = lagrangian.solve(data)
    runtime = time.perf_counter() - t0
    backend_name = "numpy (Lagrangian dual + KKT)"
    metrics = {"price": run.price, "price_steps": run.price_steps, "candidates": run.candidates}
    if run.proven_infeasible:
        return _infeasible(data, runtime, backend_name)
    if run.allocation is None or run.parts is None:  # not seen in tests; never called infeasible
        return Result(
            KEY,
            "",
            Termination.HEURISTIC,
            SolutionStatus.NO_SOLUTION,
            None,
            run.bound,
            runtime,
            None,
            metrics,
            backend_name,
        )
    energy = float(run.allocation.energy[0])
    bound = min(run.bound, energy)
    proven = relative_gap(energy, bound) or 0.0
    termination = (
        Termination.OPTIMAL if proven <= max(options.mip_gap, EXACT_AGREEMENT) else Termination.HEURISTIC
    )
    solution = SolutionStatus.OPTIMAL if termination is Termination.OPTIMAL else SolutionStatus.FEASIBLE
    plan = make_plan(data, run.parts, run.allocation.f[0], run.allocation.b[0])
    return Result(KEY, "", termination, solution, energy, bound, runtime, plan, metrics, backend_name)


def run_mean_only(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """Baseline that ignores the variance (k = 0): the non-robust design."""
    return _pccp_pipeline(data.with_margin("mean"), options)


def run_gaussian(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """Baseline with the Gaussian quantile Φ⁻¹(1 − ε) instead of Cantelli's factor."""
    return _pccp_pipeline(data.with_margin("gaussian"), options)


def _fixed_partition(data: RobustData, parts: np.ndarray) -> Result:
    t0 = time.perf_counter()
    alloc = kkt.allocate(data, parts[None, :])
    if not alloc.feasible[0]:
        return _infeasible(data, time.perf_counter() - t0, "numpy (KKT)", parts=parts)
    plan = make_plan(data, parts, alloc.f[0], alloc.b[0])
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
    """Baseline: every layer on the device, each at its best clock (the least energy meeting
    its deadline)."""
    return _fixed_partition(data, np.array([d.num_points - 1 for d in data.devices]))


def run_all_offload(data: RobustData, backend: str | None, options: SolveOptions) -> Result:
    """Baseline: everything on the server, bandwidth allocated optimally."""
    return _fixed_partition(data, np.zeros(len(data.devices), dtype=int))


class RobustFormulation:
    """Robust partitioning and resource allocation under uncertain inference time."""

    key = KEY
    title = "Robust DNN partitioning, CPU or GPU clock and bandwidth under uncertain inference time"
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
                "alternating with penalty-CCP partitioning, then a local search over one- and "
                "two-device moves, each allocated exactly (on up to 400 split points)",
                "heuristic",
                run_pccp,
                (ModelKind.CVXPY,),
                "cvxpy-clarabel",
                nonlinear=True,
            ),
            "pccp-polish": Method(
                "pccp-polish",
                "pccp with its local search at any size (one-device moves on large "
                "instances too; optsplit's addition)",
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
            "lagrangian": Method(
                "lagrangian",
                "dual decomposition of the bandwidth budget, vectorised over devices; "
                "its dual value is a proven bound (optsplit's method for large N)",
                "heuristic",
                run_lagrangian,
            ),
            "all-local": Method(
                "all-local", "baseline: all layers local, each at its best clock", "baseline", run_all_local
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
        from optsplit.formulations.robust.bench_correlation import SUITE as CORRELATION
        from optsplit.formulations.robust.bench_gpu import SUITE as GPU_SUITE
        from optsplit.formulations.robust.bench_scale import SUITE as SCALE

        return {suite.name: suite for suite in (SUITE, CORRELATION, SCALE, GPU_SUITE)}

    def sections(self) -> Mapping[str, Section]:
        from optsplit.formulations.robust.section import sections

        return sections()
