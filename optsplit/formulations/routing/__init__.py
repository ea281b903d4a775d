"""Formulation `routing` (Jung & Lee, arXiv 2111.07006): place each layer of a DNN job on
a node of a computing network and route every tensor; minimise end-to-end latency.

Three exact methods that must agree: Dijkstra and the unit-flow LP on the layered graph,
and the node-selection MILP; plus the single-node baseline (all layers on one node).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from optsplit.formulations.routing import layered, milp
from optsplit.formulations.routing.data import RoutingData, prepare
from optsplit.formulations.routing.evaluate import evaluate_routing
from optsplit.formulations.routing.explain import explain_infeasible
from optsplit.instance.model import Instance
from optsplit.problem import Evaluation, Method
from optsplit.result import Result, SolutionStatus, Termination
from optsplit.solvers import (
    LinearModel,
    ModelKind,
    Outcome,
    SolveOptions,
    solve_linear,
    write_linear_model,
)
from optsplit.solvers.graph import PathQuery, ShortestPath, shortest_path
from optsplit.solvers.registry import Backend, get_backend
from optsplit.spec import Generator, Section
from optsplit.tolerances import EXACT_AGREEMENT

if TYPE_CHECKING:
    from optsplit.bench.runner import Suite

_HIGHS_BACKENDS = ("highs", "pyomo-highs", "cvxpy-highs")
# HiGHS 1.16's probing (presolve rule 15) runs for minutes in the restarts of this MILP
# (grid-64-resnet18: > 60 s, against < 1 s in 1.15); without it both versions prove the
# optimum in seconds. Options the user passes win over these.
_HIGHS_MILP_OPTIONS = {"presolve_rule_off": 1 << 15}
# Costs above COST_RANGE times the optimum are left out of the models (see _cost_cap).
COST_RANGE = 1e12


def _infeasible(
    data: RoutingData, graph: layered.LayeredGraph, runtime: float, backend: str, log: str = ""
) -> Result:
    return Result(
        "routing",
        "",
        Termination.INFEASIBLE,
        SolutionStatus.NO_SOLUTION,
        runtime=runtime,
        backend=backend,
        explanation=explain_infeasible(data, graph),
        log=log,
    )


def _unit(reference: ShortestPath, model: LinearModel) -> float:
    """Seconds per cost unit handed to the solver: the optimum (the layered shortest path),
    so that the solvers' absolute tolerances (1e-10 on LP costs and on a MIP's objective
    cut-off) become relative to the optimum whatever the instance's magnitudes; the
    largest cost when there is no positive optimum (infeasible, or every kept cost is 0)."""
    if np.isfinite(reference.distance) and reference.distance > 0:
        return reference.distance
    largest = float(np.max(np.abs(model.c), initial=0.0))
    return largest if largest > 0 else 1.0


def _cost_cap(reference: ShortestPath) -> float:
    """Costs above this many seconds cannot be part of an optimal plan (each alone exceeds
    the optimum by a factor COST_RANGE): models leave them out, so that costs in units of
    the optimum stay below COST_RANGE, where double precision still weighs them."""
    return reference.distance * COST_RANGE


def _solve_in_units(
    model: LinearModel, unit: float, backend: str, options: SolveOptions, start: np.ndarray | None = None
) -> Outcome:
    """Solve with costs divided by ``unit``; objective and bound are scaled back to seconds."""
    scaled = replace(model, c=model.c / unit, offset=model.offset / unit)
    out = solve_linear(scaled, backend, options, start)
    out.objective = None if out.objective is None else out.objective * unit
    out.bound = None if out.bound is None else out.bound * unit
    return out


def _export(model: LinearModel, options: SolveOptions) -> SolveOptions:
    """Write the model as built (seconds, named variables) where asked; the solver then
    gets the options without the path, so the scaled copy it solves is never written."""
    if options.write_model is None:
        return options
    write_linear_model(model, options.write_model)
    return replace(options, write_model=None)


def _from_outcome(
    out: Outcome, plan: dict | None, latency: float | None, metrics: dict[str, Any], why: str | None = None
) -> Result:
    """Result of a solve: the objective is the plan's latency summed from the data, the
    solver's own (scaled-back) objective goes to metrics."""
    metrics["solver_objective"] = out.objective
    return Result(
        "routing",
        "",
        out.termination,
        out.solution_status if plan else SolutionStatus.NO_SOLUTION,
        latency if plan else None,
        out.bound,
        out.runtime,
        plan,
        metrics,
        out.solver,
        explanation=out.message or why,
        log=out.log,
    )


def _certify(result: Result, reference: ShortestPath) -> Result:
    """Hold the plan against the layered shortest path, a proven optimum (Dijkstra).

    A plan claimed optimal but longer by more than EXACT_AGREEMENT (relative) is reported
    as what it is: a feasible plan of a numerically failed solve, with the shortest path's
    length as its bound. ``metrics.certified`` says whether the plan is within that figure.
    """
    ref = reference.distance
    result.metrics["reference_latency"] = ref if np.isfinite(ref) else None
    if result.objective is None or not np.isfinite(ref):
        return result
    excess = (result.objective - ref) / ref if ref > 0 else (np.inf if result.objective > 0 else 0.0)
    result.metrics["certified"] = bool(excess <= EXACT_AGREEMENT)
    if result.termination is Termination.OPTIMAL and not result.metrics["certified"]:
        result.termination = Termination.NUMERICAL_ERROR
        result.solution_status = SolutionStatus.FEASIBLE
        result.bound = ref
        result.explanation = (
            f"the solver claimed optimality, but its plan is longer than the shortest path on the "
            f"layered graph ({ref!r} s) by {excess:.3g} of it: the plan is only feasible"
        )
    return result


def _reference(graph: layered.LayeredGraph) -> ShortestPath:
    return shortest_path(graph.edges.to_csr(), graph.source, graph.sink)


_NO_PLAN = (Termination.INFEASIBLE, Termination.UNBOUNDED, Termination.INFEASIBLE_OR_UNBOUNDED)


def _no_plan(data: RoutingData, graph: layered.LayeredGraph, reference: ShortestPath, out: Outcome) -> Result:
    """The solver's infeasibility (or unboundedness) claim, held against the shortest path:
    with nonnegative costs neither can be right while a source-to-sink path exists."""
    if not reference.vertices:
        return _infeasible(data, graph, out.runtime, out.solver, out.log)
    return Result(
        "routing",
        "",
        Termination.NUMERICAL_ERROR,
        SolutionStatus.NO_SOLUTION,
        runtime=out.runtime,
        backend=out.solver,
        metrics={"reference_latency": reference.distance},
        explanation=(
            f"the solver reported '{out.termination.value}', but the layered graph has a plan "
            f"of latency {reference.distance!r} s: a numerical failure"
        ),
        log=out.log,
    )


def run_dijkstra(data: RoutingData, backend: str | Backend | None, options: SolveOptions) -> Result:
    """Shortest path on the layered graph (Dijkstra of scipy.sparse.csgraph by default)."""
    t0 = time.perf_counter()
    graph = layered.build(data)
    csr = graph.edges.to_csr()
    build_time = time.perf_counter() - t0
    solver = get_backend(backend or "scipy") if not isinstance(backend, Backend) else backend
    out = solver.solve(PathQuery(csr, graph.source, graph.sink), options)
    runtime = time.perf_counter() - t0
    if out.values is None:
        return _infeasible(data, graph, runtime, out.solver)
    plan = layered.plan_from_path(data, graph, [int(v) for v in out.values])
    return Result(
        "routing",
        "",
        out.termination,
        out.solution_status,
        out.objective,
        out.bound,
        runtime,
        plan,
        {"build_time": build_time, "layered_vertices": csr.shape[0], "layered_edges": int(csr.nnz)},
        out.solver,
    )


def run_lp(data: RoutingData, backend: str | None, options: SolveOptions) -> Result:
    """Unit-flow LP on the layered graph; reports how far the LP point is from 0/1."""
    t0 = time.perf_counter()
    graph = layered.build(data)
    reference = _reference(graph)
    edges = layered.useful_edges(graph)
    edges = edges[graph.edges.weight[edges] <= _cost_cap(reference)]
    model = layered.flow_lp(graph, edges, data.labels if options.write_model is not None else None)
    build_time = time.perf_counter() - t0
    options = _export(model, options)
    out = _solve_in_units(model, _unit(reference, model), backend or "highs", options)
    out.runtime += build_time
    if out.termination in _NO_PLAN:
        return _no_plan(data, graph, reference, out)
    metrics: dict[str, Any] = {"build_time": build_time, "columns": model.num_cols, "rows": model.num_rows}
    plan, latency, why = None, None, None
    if out.values is not None:
        metrics["integrality_violation"] = float(np.max(np.abs(out.values - np.round(out.values)), initial=0))
        path = layered.path_from_flow(graph, out.values, edges)
        if path:
            plan, latency = layered.plan_from_path(data, graph, path), layered.path_weight(graph, path)
        else:
            why = "the LP point holds no source-to-sink path of edges with flow > 0.5"
    return _certify(_from_outcome(out, plan, latency, metrics, why), reference)


def run_milp(data: RoutingData, backend: str | None, options: SolveOptions) -> Result:
    """Node-selection MILP with a single-node MIP start where the back-end takes one; nodes
    and pairs slower than that plan, or than COST_RANGE optima, are left out (milp.build)."""
    t0 = time.perf_counter()
    chosen = backend or "highs"
    graph = layered.build(data)
    reference = _reference(graph)
    bounds = milp.boundaries(data)
    single = milp.single_node(data, bounds)
    limit = min(single[1] if single else np.inf, _cost_cap(reference))
    model = milp.build(data, bounds, limit, options.write_model is not None)
    build_time = time.perf_counter() - t0
    options = _export(model.model, options)
    if chosen in _HIGHS_BACKENDS:
        options = replace(options, extra={**_HIGHS_MILP_OPTIONS, **options.extra})
    start = milp.start_vector(model, single[0]) if single and single[1] <= limit else None
    out = _solve_in_units(model.model, _unit(reference, model.model), chosen, options, start)
    out.runtime += build_time
    if out.termination in _NO_PLAN:
        return _no_plan(data, graph, reference, out)
    plan, latency, why = None, None, None
    if out.values is not None:
        placement = milp.placement_indices(model, out.values)
        if placement:
            plan = milp.plan_from_placement(data, model.boundaries, placement)
            latency = milp.latency(data, model.boundaries, placement)
        else:
            why = "the MILP point has a layer with no y near 1"
    metrics: dict[str, Any] = {
        "build_time": build_time,
        "columns": model.model.num_cols,
        "rows": model.model.num_rows,
        "integer_columns": int(model.model.integer.sum()),
    }
    return _certify(_from_outcome(out, plan, latency, metrics, why), reference)


def run_single_node(data: RoutingData, backend: str | None, options: SolveOptions) -> Result:
    """Baseline: the whole DNN on the one node that minimises latency (no split)."""
    t0 = time.perf_counter()
    bounds = milp.boundaries(data)
    best = milp.single_node(data, bounds)
    runtime = time.perf_counter() - t0
    if best is None:
        return Result(
            "routing",
            "",
            Termination.INFEASIBLE,
            SolutionStatus.NO_SOLUTION,
            runtime=runtime,
            backend="numpy",
            explanation="no single node can compute every layer and reach the source and destination",
        )
    plan = milp.plan_from_placement(data, bounds, best[0])
    return Result(
        "routing",
        "",
        Termination.HEURISTIC,
        SolutionStatus.FEASIBLE,
        best[1],
        None,
        runtime,
        plan,
        {},
        "numpy",
    )


class RoutingFormulation:
    """Layer placement and tensor routing over a computing network (min latency)."""

    key = "routing"
    title = "Layer placement and routing of a DNN job over a computing network"
    reference = "S. Jung, H.-W. Lee, arXiv 2111.07006 (Computer Networks 2023, 109814)"
    objective_name = "end-to-end latency [s]"
    sense = "minimize"
    plan_legend = (
        "placement: '3-7 edge0' = layers 3 to 7 run on node edge0; "
        "paths: '#k a->b' = tensor k (#0 the input, #k the output of layer k) travels a -> b"
    )
    default_method = "dijkstra"

    def methods(self) -> Mapping[str, Method]:
        return {
            "dijkstra": Method(
                "dijkstra",
                "shortest path on the layered graph",
                "exact",
                run_dijkstra,
                (ModelKind.GRAPH,),
                "scipy",
            ),
            "lp": Method(
                "lp",
                "unit-flow LP on the layered graph (integral by total unimodularity)",
                "exact",
                run_lp,
                (ModelKind.LINEAR,),
                "highs",
                writes_model=True,
            ),
            "milp": Method(
                "milp",
                "node-selection MILP with McCormick pairwise transfer costs (existing-style formulation)",
                "exact",
                run_milp,
                (ModelKind.LINEAR,),
                "highs",
                integers=True,
                writes_model=True,
            ),
            "single-node": Method(
                "single-node", "baseline: all layers on the best single node", "baseline", run_single_node
            ),
        }

    def prepare(self, instance: Instance) -> RoutingData:
        return prepare(instance)

    def evaluate(self, instance: Instance, plan: Mapping[str, Any]) -> Evaluation:
        return evaluate_routing(instance, plan)

    def generators(self) -> Mapping[str, Generator]:
        from optsplit.formulations.routing.generate import generators

        return generators()

    def suites(self) -> Mapping[str, Suite]:
        from optsplit.formulations.routing.bench import SUITE

        return {SUITE.name: SUITE}

    def sections(self) -> Mapping[str, Section]:
        from optsplit.formulations.routing.section import sections

        return sections()
