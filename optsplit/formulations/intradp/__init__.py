"""Formulation `intradp` (Sun et al., arXiv 2507.05829, Intra-DP): split inside operators.

Each operator's output rows are shared between the device (share x) and the server (1 − x);
where the tiles of consecutive operators differ, rows cross the link with their halo; the two
processors compute concurrently and each link direction is a FIFO (the recursion C.4).
Minimise latency, or device energy under a latency bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from optsplit.errors import OptionError, SolverError
from optsplit.formulations.intradp import planners
from optsplit.formulations.intradp.data import KEY, SECTION, IntraDPData, prepare
from optsplit.formulations.intradp.evaluate import build_timeline, evaluate_plan, read_shares
from optsplit.formulations.intradp.recursion import durations, figures
from optsplit.formulations.intradp.slicing import GridTables, exchanges, grid_tables, held_rows
from optsplit.problem import Method
from optsplit.result import Evaluation, Result, SolutionStatus, Termination
from optsplit.solvers.options import SolveOptions
from optsplit.solvers.registry import ModelKind
from optsplit.spec import Generator, Section

if TYPE_CHECKING:
    from optsplit.bench.runner import Suite
    from optsplit.formulations.intradp.labelsetting import Outcome
    from optsplit.timeline import Timeline

log = logging.getLogger(__name__)
# solver_options the MILP reads itself (the rest go to the solver)
MILP_OPTIONS = ("grid", "start", "strong", "dp_bound")
CUTOFF_SLACK = 1e-7  # relative room above the heuristic's latency for the MILP's clock bounds


def make_plan(data: IntraDPData, shares: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan {shares, exchanges} of a share vector, and its figures by the recursion."""
    m = held_rows(data, shares)[None, :]
    ex = exchanges(data, m)
    f = figures(data, m, ex)
    d = durations(data, m, ex)
    records = []
    for tag, rows, air in (("up", ex.up_rows[0], d.up[0]), ("down", ex.down_rows[0], d.down[0])):
        for j in np.flatnonzero(rows > 0):
            records.append(
                {
                    "tensor": data.names[j],
                    "direction": tag,
                    "rows": int(rows[j]),
                    "bytes": float(rows[j] * data.row_bytes[j]),
                    "airtime_ms": float(air[j] * 1e3),
                }
            )
    records.sort(key=lambda r: data.names.index(str(r["tensor"])))
    plan = {
        "shares": {data.names[j]: float(shares[j]) for j in range(data.n_positions) if not data.fixed[j]},
        "exchanges": records,
    }
    figs = {
        "latency": float(f.latency[0]),
        "energy": float(f.energy[0]),
        "device_busy": float(f.busy[0]),
        "airtime_up": float(f.airtime_up[0]),
        "airtime_down": float(f.airtime_down[0]),
    }
    return plan, figs


def _value(data: IntraDPData, figs: Mapping[str, float]) -> float:
    return figs["latency"] if data.objective == "latency" else figs["energy"]


def _bound_ok(data: IntraDPData, figs: Mapping[str, float]) -> bool:
    from optsplit.tolerances import PLAN_RELATIVE

    return data.objective == "latency" or figs["latency"] <= (data.latency_bound or 0) * (1 + PLAN_RELATIVE)


def planned_result(
    data: IntraDPData, shares: np.ndarray, runtime: float, backend: str, metrics: dict[str, Any]
) -> Result:
    """Result of a planner (no optimality claim): feasible, or infeasible with the reason."""
    plan, figs = make_plan(data, shares)
    ok = _bound_ok(data, figs)
    why = None if ok else f"latency {figs['latency']:.6g} s exceeds the bound {data.latency_bound:.6g} s"
    return Result(
        KEY,
        "",
        Termination.HEURISTIC,
        SolutionStatus.FEASIBLE if ok else SolutionStatus.INFEASIBLE,
        _value(data, figs),
        None,
        runtime,
        plan,
        {**figs, **metrics},
        backend,
        why,
    )


def _shares(gidx: np.ndarray, grid: int) -> np.ndarray:
    return gidx / grid


def run_baseline(kind: str) -> Any:
    def run(data: IntraDPData, backend: str | None, options: SolveOptions) -> Result:
        if options.extra:
            raise OptionError(f"{kind} takes no solver_options, got {sorted(options.extra)}")
        t0 = time.perf_counter()
        g = planners.HEURISTIC_GRID
        extra: dict[str, Any]
        if kind == "all-local":
            gidx, extra = planners.all_local(data, g), {}
        elif kind == "all-offload":
            gidx, extra = planners.all_offload(data, g), {}
        else:
            best = planners.plan_layerwise(data, grid_tables(data, g))
            gidx, extra = (
                best.gidx,
                {"chosen": best.source, "rule": "layered path" if data.is_chain else "min cut"},
            )
        return planned_result(data, _shares(gidx, g), time.perf_counter() - t0, "numpy/scipy", extra)

    return run


def run_intradp(data: IntraDPData, backend: str | None, options: SolveOptions) -> Result:
    """The paper-style planner; with solver_options bandwidth_table = [MB/s, …] it precomputes
    a plan per bandwidth and uses the one looked up for the instance's bandwidth."""
    unknown = set(options.extra) - {"bandwidth_table"}
    if unknown:
        raise OptionError(f"intradp takes solver_options 'bandwidth_table' only, got {sorted(unknown)}")
    t0 = time.perf_counter()
    g = planners.HEURISTIC_GRID
    table = options.extra.get("bandwidth_table")
    if table is None:
        best = planners.plan_intradp(data, grid_tables(data, g))
        return planned_result(
            data,
            _shares(best.gidx, g),
            time.perf_counter() - t0,
            "numpy/scipy",
            {"chosen": best.source, "plans_scored": best.tried, **best.notes},
        )
    values = list(table) if isinstance(table, (list, tuple)) else None
    if not values or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise OptionError("bandwidth_table must be a non-empty list of bandwidths (MB/s) > 0")
    rows = planners.plan_table(data, [float(v) for v in values])
    row = planners.lookup(rows, data.bandwidth)
    metrics = {
        "looked_up_bandwidth": row.bandwidth,
        "table": [
            {"bandwidth": r.bandwidth, "objective": r.value, "plan_time": r.plan_time, "chosen": r.source}
            for r in rows
        ],
        "max_plan_time": max(r.plan_time for r in rows),
    }
    return planned_result(data, _shares(row.gidx, g), time.perf_counter() - t0, "numpy/scipy", metrics)


def run_milp(data: IntraDPData, backend: Any, options: SolveOptions) -> Result:
    """The exact MILP on the share grid (instance `grid`, or solver_options grid = G)."""
    from optsplit.formulations.intradp import milp
    from optsplit.solvers import solve_linear

    grid = _grid_option(data, options)
    use_start, strong, dp_bound = (
        _flag_option(options, name, default)
        for name, default in (("start", True), ("strong", False), ("dp_bound", False))
    )
    solver_opts = replace(options, extra={k: v for k, v in options.extra.items() if k not in MILP_OPTIONS})
    t0 = time.perf_counter()
    tables = grid_tables(data, grid)
    start = None
    start_shares, start_value, floor = None, None, None
    metrics: dict[str, Any] = {}
    if dp_bound:  # the label-setting method's proven bound becomes a row, its plan the start
        exact = _dp_for_milp(data, grid, options)
        metrics.update(dp_bound=exact.bound, dp_status=exact.termination.value, dp_time=exact.runtime)
        left = None if options.time_limit is None else options.time_limit - (time.perf_counter() - t0)
        if exact.termination is Termination.INTERRUPTED or (left is not None and left <= 0):
            why = "interrupted during dp" if left is None or left > 0 else "no time left after dp"
            return replace(exact, metrics={**exact.metrics, **metrics, "milp": f"not run: {why}"})
        floor = exact.bound
        if exact.plan is not None and exact.solution_status is not SolutionStatus.INFEASIBLE:
            start_shares, start_value = read_shares(data, exact.plan), exact.objective
        if left is not None:
            solver_opts = replace(solver_opts, time_limit=left)
    if use_start and start_shares is None:
        best = planners.plan_intradp(data, grid_tables(data, planners.HEURISTIC_GRID))
        start_shares, start_value = _shares(best.gidx, planners.HEURISTIC_GRID), best.value
    cutoff = None
    if start_shares is not None:
        m = held_rows(data, start_shares)[None, :]
        d = durations(data, m, exchanges(data, m))
        if data.objective == "latency" and start_value is not None and np.isfinite(start_value):
            cutoff = start_value * (1 + CUTOFF_SLACK)  # no better plan's clocks exceed it
    model, lay = milp.build(data, tables, cutoff, pairs=strong, boundaries=strong)
    if start_shares is not None:
        start = milp.start_vector(tables, lay, m[0], d)
        if start is None:  # the start plan is not on this grid: no cutoff from it
            model, lay = milp.build(data, tables, pairs=strong, boundaries=strong)
    if floor is not None and np.isfinite(floor):
        model = milp.with_objective_floor(model, floor)
    build_time = time.perf_counter() - t0
    out = solve_linear(model, backend or "highs", solver_opts, start)
    metrics |= {
        "build_time": build_time,
        "grid": grid,
        "columns": model.num_cols,
        "rows": model.num_rows,
        "binaries": int(model.integer.sum()),
        "mip_start": start is not None,
        "start_objective": start_value,
        "milp_objective": out.objective,
    }
    runtime = build_time + out.runtime
    if not out.has_solution or out.values is None:
        return Result(
            KEY,
            "",
            out.termination,
            out.solution_status,
            None,
            _with_floor(out.bound, floor),
            runtime,
            None,
            metrics,
            out.solver,
            "no share plan on the grid meets the latency bound"
            if out.termination is Termination.INFEASIBLE
            else None,
            out.log,
        )
    shares = _shares(milp.read_plan(out.values, lay), grid)
    plan, figs = make_plan(data, shares)
    value = _value(data, figs)
    if out.objective is not None and abs(value - out.objective) > 1e-6 * max(abs(value), 1e-12):
        log.info("MILP objective %.9g, its plan evaluates to %.9g (slack in a max)", out.objective, value)
    bound = _with_floor(out.bound, floor)
    bound = None if bound is None else min(bound, value)
    return Result(
        KEY,
        "",
        out.termination,
        out.solution_status,
        value,
        bound,
        runtime,
        plan,
        {**figs, **metrics},
        out.solver,
        None,
        out.log,
    )


DP_OPTIONS = ("grid", "start", "max_states", "max_labels")
DP_STOPS = {
    "time_limit": Termination.TIME_LIMIT,
    "label_limit": Termination.ITERATION_LIMIT,
    "interrupted": Termination.INTERRUPTED,
}


def _with_floor(bound: float | None, floor: float | None) -> float | None:
    """The better of the solver's dual bound and a bound proven before it ran (either may lack)."""
    known = [b for b in (bound, floor) if b is not None and np.isfinite(b)]
    return max(known) if known else bound


def _dp_for_milp(data: IntraDPData, grid: int, options: SolveOptions) -> Result:
    """``dp`` on the MILP's grid, for its bound and plan; a refusal says which option caused it."""
    try:
        return run_dp(data, None, replace(options, extra={"grid": grid}))
    except SolverError as exc:
        reason = str(exc).removeprefix("dp: ").removesuffix("; use milp")
        raise SolverError(f"dp_bound: {reason}; solve without dp_bound") from None


def _flag_option(options: SolveOptions, name: str, default: bool) -> bool:
    """A true/false solver option."""
    value = options.extra.get(name, default)
    if not isinstance(value, bool):
        raise OptionError(f"{name} must be true or false, got {value!r:.40}")
    return value


def _grid_option(data: IntraDPData, options: SolveOptions) -> int:
    """The share grid G: the ``grid`` solver option, else the instance's."""
    grid = options.extra.get("grid", data.grid)
    if isinstance(grid, bool) or not isinstance(grid, int) or not 1 <= grid <= 100:
        raise OptionError(f"grid must be an integer in 1..100, got {grid!r:.40}")
    return grid


def _count_option(options: SolveOptions, name: str, default: int | None) -> int | None:
    """A positive integer solver option, or None when neither given nor defaulted."""
    value = options.extra.get(name, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise OptionError(f"{name} must be a positive integer, got {value!r:.40}")
    return value


def grid_incumbent(data: IntraDPData, tables: GridTables) -> planners.Planned:
    """The best of the layer-wise plan, both extremes and the heuristic's plan, among those on
    the grid of ``tables`` (layer-wise and extreme plans are on every grid)."""
    best = planners.plan_layerwise(data, tables)
    heuristic = planners.plan_intradp(data, grid_tables(data, planners.HEURISTIC_GRID))
    held = held_rows(data, _shares(heuristic.gidx, planners.HEURISTIC_GRID))
    hits = (tables.m == held[:, None]) & tables.allowed
    if heuristic.value < best.value and hits.any(axis=1).all():
        return planners.Planned(hits.argmax(axis=1), heuristic.value, heuristic.tried, heuristic.source)
    return best


def run_dp(data: IntraDPData, backend: str | None, options: SolveOptions) -> Result:
    """Exact grid optimum by label setting (``labelsetting``), started from the best known plan
    on the grid; at a limit, that plan and the proven bound of the labels still open."""
    from optsplit.formulations.intradp import labelsetting

    unknown = set(options.extra) - set(DP_OPTIONS)
    if unknown:
        raise OptionError(f"dp takes solver_options {', '.join(DP_OPTIONS)} only, got {sorted(unknown)}")
    grid = _grid_option(data, options)
    max_states = _count_option(options, "max_states", labelsetting.DEFAULT_MAX_STATES)
    max_labels = _count_option(options, "max_labels", None)
    use_start = _flag_option(options, "start", True)
    t0 = time.perf_counter()
    deadline = None if options.time_limit is None else t0 + options.time_limit
    tables = grid_tables(data, grid)
    try:
        search = labelsetting.LabelSetting(data, tables, max_states or labelsetting.DEFAULT_MAX_STATES)
    except labelsetting.FrontierTooLarge as exc:
        raise labelsetting.FrontierTooLarge(f"dp: {exc}; use milp") from None
    start = grid_incumbent(data, tables) if use_start else None
    if start is not None and not np.isfinite(start.value):
        start = None  # no feasible plan known (energy under a tight bound)
    out = search.run(np.inf if start is None else start.value, deadline, max_labels)
    metrics: dict[str, Any] = {
        "grid": grid,
        "labels_peak": out.labels_peak,
        "labels_total": out.labels_total,
        "start_objective": None if start is None else float(start.value),
    }
    return _dp_result(data, grid, out, start, time.perf_counter() - t0, metrics)


def _dp_result(
    data: IntraDPData,
    grid: int,
    out: Outcome,
    start: planners.Planned | None,
    runtime: float,
    metrics: dict[str, Any],
) -> Result:
    """The Result of a label-setting run: its plan, else the start plan, with what was proven."""
    if out.levels is not None:  # a plan better than the start, the last survivor: the optimum
        plan, figs = make_plan(data, _shares(out.levels, grid))
        value = _value(data, figs)
        agree = abs(value - out.value) <= 1e-9 * max(abs(value), 1e-12)
        if not agree:  # the search's arithmetic and the evaluator's disagree: claim nothing
            log.warning("dp: label value %.12g, its plan evaluates to %.12g", out.value, value)
        return Result(
            KEY,
            "",
            Termination.OPTIMAL if agree else Termination.NUMERICAL_ERROR,
            SolutionStatus.OPTIMAL if agree else SolutionStatus.FEASIBLE,
            value,
            min(out.bound, value) if agree else None,
            runtime,
            plan,
            {**figs, **metrics},
            "numpy",
        )
    if start is None:  # no feasible plan known, and none found
        proven = out.complete
        return Result(
            KEY,
            "",
            Termination.INFEASIBLE if proven else DP_STOPS[out.stopped],
            SolutionStatus.NO_SOLUTION,
            None,
            None if proven else out.bound,
            runtime,
            None,
            metrics,
            "numpy",
            f"no share plan on the grid (G = {grid}) meets the latency bound {data.latency_bound:.6g} s"
            if proven
            else None,
        )
    result = planned_result(data, _shares(start.gidx, grid), runtime, "numpy", metrics)
    if out.complete:  # no plan beats the start plan by more than the pruning slack: it is optimal
        return replace(
            result, termination=Termination.OPTIMAL, solution_status=SolutionStatus.OPTIMAL, bound=out.bound
        )
    return replace(result, termination=DP_STOPS[out.stopped], bound=min(out.bound, start.value))


class IntraDPFormulation:
    """Intra-DP: shares of every operator between device and server, halo-exact transfers."""

    key = KEY
    title = "Intra-operator split between device and server (Intra-DP)"
    reference = "Sun et al., Intra-DP, arXiv 2507.05829"
    objective_name = "latency [s] (or device energy [J] under a latency bound)"
    sense = "minimize"
    default_method = "intradp"
    plan_legend = (
        "shares: per operator, the fraction of its output rows computed on the device (1 = all "
        "device, 0 = all server); exchanges: rows of a tensor sent up (device → server) or down, "
        "halo included"
    )

    def sections(self) -> Mapping[str, Section]:
        return {KEY: SECTION}

    def methods(self) -> Mapping[str, Method]:
        return {
            "milp": Method(
                "milp",
                "exact MILP on the share grid {0, 1/G, …, 1} (C.5), MIP start from the heuristic",
                "exact",
                run_milp,
                (ModelKind.LINEAR,),
                "highs",
                integers=True,
                writes_model=True,
            ),
            "dp": Method(
                "dp",
                "exact grid optimum by label setting over positions (dominance + fluid bound)",
                "exact",
                run_dp,
            ),
            "intradp": Method(
                "intradp",
                "Intra-DP's planner: min-cut candidates × share grid, fallbacks; bandwidth_table option",
                "heuristic",
                run_intradp,
            ),
            "layerwise": Method(
                "layerwise",
                "best layer-wise split: layered shortest path (chains), DADS min cut (DAGs)",
                "baseline",
                run_baseline("layerwise"),
            ),
            "all-local": Method(
                "all-local", "everything on the device", "baseline", run_baseline("all-local")
            ),
            "all-offload": Method(
                "all-offload",
                "send the input, compute on the server, return the result",
                "baseline",
                run_baseline("all-offload"),
            ),
        }

    def prepare(self, instance: Any) -> IntraDPData:
        return prepare(instance)

    def evaluate(self, instance: Any, plan: Mapping[str, Any]) -> Evaluation:
        return evaluate_plan(prepare(instance), plan)

    def timeline(self, instance: Any, plan: Mapping[str, Any]) -> tuple[Timeline, np.ndarray]:
        """The plan's tasks on device, server, uplink and downlink, with their earliest starts."""
        from optsplit.timeline import earliest

        data = prepare(instance)
        m = held_rows(data, read_shares(data, plan))[None, :]
        tl = build_timeline(data, durations(data, m, exchanges(data, m)))
        return tl, earliest(tl)

    def generators(self) -> Mapping[str, Generator]:
        from optsplit.formulations.intradp.generate import GENERATOR

        return {GENERATOR.name: GENERATOR}

    def suites(self) -> Mapping[str, Suite]:
        from optsplit.formulations.intradp.bench import SUITE

        return {SUITE.name: SUITE}
