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

from optsplit.evaluate.routing import evaluate_routing
from optsplit.formulations.routing import layered, milp
from optsplit.formulations.routing.data import RoutingData, prepare
from optsplit.formulations.routing.explain import explain_infeasible
from optsplit.instance.model import Instance
from optsplit.problem import Evaluation, Method
from optsplit.result import Result, SolutionStatus, Termination
from optsplit.solvers import LINEAR_BACKENDS, LinearModel, Outcome, SolveOptions, solve_linear
from optsplit.solvers.graph import scipy_version, shortest_path
from optsplit.spec import Generator

if TYPE_CHECKING:
    from optsplit.bench.runner import Suite

_LP_BACKENDS = ("highs", "pyomo-highs", "pyomo-scip", "cvxpy-highs", "cvxpy-scip", "cvxpy-clarabel")
_MILP_BACKENDS = tuple(b for b in _LP_BACKENDS if LINEAR_BACKENDS[b].handles_integers)


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


def _solve_scaled(
    model: LinearModel, backend: str, options: SolveOptions, start: np.ndarray | None = None
) -> Outcome:
    """Solve with costs divided by the largest one, so that latencies of any magnitude sit
    well above the solvers' absolute optimality tolerances (~1e-7); objective and bound are
    scaled back."""
    scale = float(np.max(np.abs(model.c))) if model.c.size else 1.0
    scale = scale if scale > 0 else 1.0
    scaled = replace(model, c=model.c / scale, offset=model.offset / scale)
    out = solve_linear(scaled, backend, options, start)
    out.objective = None if out.objective is None else out.objective * scale
    out.bound = None if out.bound is None else out.bound * scale
    return out


def _from_outcome(out: Outcome, plan: dict | None, metrics: dict[str, Any]) -> Result:
    return Result(
        "routing",
        "",
        out.termination,
        out.solution_status if plan else SolutionStatus.NO_SOLUTION,
        out.objective if plan else None,
        out.bound,
        out.runtime,
        plan,
        metrics,
        out.solver,
        log=out.log,
    )


def run_dijkstra(data: RoutingData, backend: str | None, options: SolveOptions) -> Result:
    """Shortest path on the layered graph (scipy.sparse.csgraph)."""
    t0 = time.perf_counter()
    graph = layered.build(data)
    csr = graph.edges.to_csr()
    build_time = time.perf_counter() - t0
    sp_ = shortest_path(csr, graph.source, graph.sink)
    runtime = time.perf_counter() - t0
    if not sp_.vertices:
        return _infeasible(data, graph, runtime, scipy_version())
    plan = layered.plan_from_path(data, graph, sp_.vertices)
    return Result(
        "routing",
        "",
        Termination.OPTIMAL,
        SolutionStatus.OPTIMAL,
        sp_.distance,
        sp_.distance,
        runtime,
        plan,
        {"build_time": build_time, "layered_vertices": csr.shape[0], "layered_edges": int(csr.nnz)},
        scipy_version(),
    )


def run_lp(data: RoutingData, backend: str | None, options: SolveOptions) -> Result:
    """Unit-flow LP on the layered graph; reports how far the LP point is from 0/1."""
    t0 = time.perf_counter()
    graph = layered.build(data)
    model = layered.flow_lp(graph)
    build_time = time.perf_counter() - t0
    out = _solve_scaled(model, backend or "highs", options)
    out.runtime += build_time
    if out.termination in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED):
        return _infeasible(data, graph, out.runtime, out.solver, out.log)
    plan, metrics = None, {"build_time": build_time, "columns": model.num_cols, "rows": model.num_rows}
    if out.values is not None:
        metrics["integrality_violation"] = float(np.max(np.abs(out.values - np.round(out.values))))
        path = layered.path_from_flow(graph, out.values)
        plan = layered.plan_from_path(data, graph, path) if path else None
    return _from_outcome(out, plan, metrics)


def run_milp(data: RoutingData, backend: str | None, options: SolveOptions) -> Result:
    """Node-selection MILP with a single-node MIP start where the back-end takes one."""
    t0 = time.perf_counter()
    model = milp.build(data)
    start_placement = _best_single_node(data, model)
    build_time = time.perf_counter() - t0
    start = milp.start_vector(model, start_placement[0]) if start_placement else None
    out = _solve_scaled(model.model, backend or "highs", options, start)
    out.runtime += build_time
    if out.termination in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED):
        graph = layered.build(data)
        return _infeasible(data, graph, out.runtime, out.solver, out.log)
    plan = None
    if out.values is not None:
        placement = milp.placement_indices(model, out.values)
        plan = milp.plan_from_placement(data, model, placement) if placement else None
    return _from_outcome(
        out,
        plan,
        {
            "build_time": build_time,
            "columns": model.model.num_cols,
            "rows": model.model.num_rows,
            "integer_columns": int(model.model.integer.sum()),
        },
    )


def _best_single_node(data: RoutingData, model: milp.NodeSelectionMILP) -> tuple[list[int], float] | None:
    """Best node to run every layer on (input routed in, result routed out), with its latency."""
    able = np.isfinite(data.compute).all(axis=0)
    first, last = model.boundaries[0], model.boundaries[-1]
    total = np.full(data.num_nodes, np.inf)
    for v in np.flatnonzero(able):
        j = int(np.flatnonzero(first.targets == v)[0])
        i = int(np.flatnonzero(last.sources == v)[0])
        total[v] = first.cost[0, j] + data.compute[:, v].sum() + last.cost[i, 0]
    if not np.isfinite(total).any():
        return None
    best = int(np.argmin(total))
    return [best] * data.num_layers, float(total[best])


def run_single_node(data: RoutingData, backend: str | None, options: SolveOptions) -> Result:
    """Baseline: the whole DNN on the one node that minimises latency (no split)."""
    t0 = time.perf_counter()
    model = milp.build(data)
    best = _best_single_node(data, model)
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
    plan = milp.plan_from_placement(data, model, best[0])
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
                "dijkstra", "shortest path on the layered graph", "exact", run_dijkstra, ("scipy",)
            ),
            "lp": Method(
                "lp",
                "unit-flow LP on the layered graph (integral by total unimodularity)",
                "exact",
                run_lp,
                _LP_BACKENDS,
                writes_model=True,
            ),
            "milp": Method(
                "milp",
                "node-selection MILP with McCormick pairwise transfer costs (existing-style formulation)",
                "exact",
                run_milp,
                _MILP_BACKENDS,
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
