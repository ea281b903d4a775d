"""Exact methods on the tick model: CP-SAT (interval variables) and a disjunctive MILP (HiGHS),
plus brute force; each plan is re-evaluated in continuous time by the shared engine.

CP-SAT: per task and core an optional interval (present iff the task runs there; tiles
exist only under their chunk option), one no-overlap per core; RB owners a_mk with chunk
arrivals A from Σ_k R_mk·z_k ≥ B, z_k ≤ A, z_k ≤ H·a_mk (z_k = A·a_mk where it matters);
a NoC lag on an edge unless both ends share a core. The MILP states the same with big-M
order binaries. Resolution Δ: the instance's ``resolution``, else PACS's makespan / 1000.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from optsplit.errors import InputError
from optsplit.formulations.multimodal import heuristics
from optsplit.formulations.multimodal.bound import lower_bound
from optsplit.formulations.multimodal.data import KEY, MultimodalData
from optsplit.formulations.multimodal.plan import Decisions, to_plan
from optsplit.formulations.multimodal.schedule import build_timeline, expand
from optsplit.formulations.multimodal.ticks import TickData, active, brute_force, build_ticks, makespan
from optsplit.result import Result, SolutionStatus, Termination
from optsplit.solvers.linear import LinearModel
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.timeline import earliest
from optsplit.tolerances import OBJECTIVE_RELATIVE

DEFAULT_TICKS = 1000  # default resolution: PACS's makespan / this
# A tick solution: RB owners, chunk option per modality, core and (tick) start per task.
Found = tuple[list[int], list[int], dict[int, int], dict[int, float]]


# --- from decisions to ticks and back ---------------------------------------------------


def _tick_index(tick: TickData) -> dict[tuple[int, int, int], int]:
    """(block, option, tile) -> tick task, with option = tile = -1 for whole blocks."""
    return {
        (int(b), int(o), int(j)): t for t, (b, o, j) in enumerate(zip(tick.block, tick.option, tick.tile))
    }


def _from_schedule(
    tick: TickData, data: MultimodalData, s: heuristics.Schedule
) -> tuple[list[int], list[int], dict[int, int], dict[int, list[int]]]:
    """A continuous schedule's decisions in tick terms: owners, options, cores, sequences."""
    dec = s.decisions
    owner = [q[0] for q in dec.serves]
    choice = [data.chunk_options.index(c) for c in dec.chunks]
    index = _tick_index(tick)
    core: dict[int, int] = {}
    seq: dict[int, list[int]] = {}
    order = np.lexsort((dec.starts, dec.cores))
    for i in order.tolist():
        b = int(dec.tasks.block[i])
        m = int(dec.tasks.modality[i])
        key = (b, choice[m], int(dec.tasks.chunk[i])) if m >= 0 else (b, -1, -1)
        t = index[key]
        core[t] = int(dec.cores[i])
        seq.setdefault(core[t], []).append(t)
    return owner, choice, core, seq


def _decisions(
    data: MultimodalData, tick: TickData, owner: Sequence[int], choice: Sequence[int], core: dict, start: dict
) -> tuple[Decisions, np.ndarray]:
    """Continuous decisions from a tick solution: the engine's earliest schedule with the same
    RBs, chunks, cores and per-core order (ties in tick start broken by tick index)."""
    chunks = tuple(data.chunk_options[o] for o in choice)
    tasks = expand(data, chunks)
    names = tasks.index()
    cores = np.zeros(tasks.n, dtype=np.int64)
    for t, c in core.items():
        cores[names[tick.names[t]]] = c
    serves = tuple((int(m),) for m in owner)
    tl, _ = build_timeline(data, tasks, serves, cores)
    order = {}
    for c in range(data.n_cores):
        mine = sorted((start[t], t) for t in core if core[t] == c)
        order[f"core{c}"] = [tick.names[t] for _, t in mine]
    starts = earliest(tl, order)
    finish = tl.finish(starts)
    n_tx = tl.n_tasks - tasks.n
    return Decisions(serves, chunks, tasks, cores, starts[n_tx:]), finish[n_tx:]


# --- CP-SAT -------------------------------------------------------------------------------


def cpsat_model(tick: TickData, data: MultimodalData) -> tuple[Any, dict[str, Any]]:
    """The CP-SAT model and the variables to read back, grouped by role."""
    from ortools.sat.python import cp_model

    from optsplit.solvers.cpsat import CpSatModel

    md = cp_model.CpModel()
    H = tick.horizon
    M, K, C = data.n_modalities, data.n_rbs, data.n_cores
    a = [[md.new_bool_var(f"a{m}_{k}") for k in range(K)] for m in range(M)]
    for k in range(K):
        md.add_exactly_one(a[m][k] for m in range(M))
    use = [[md.new_bool_var(f"use{m}_{o}") for o in range(len(tick.options))] for m in range(M)]
    for m in range(M):
        md.add_exactly_one(use[m])
    arrive: dict[tuple[int, int, int], Any] = {}
    for (m, o, j), units in tick.B.items():
        A = md.new_int_var(0, H, f"A{m}_{o}_{j}")
        z = [md.new_int_var(0, H, f"z{m}_{o}_{j}_{k}") for k in range(K)]
        for k in range(K):
            md.add(z[k] <= A)
            md.add(z[k] <= H * a[m][k])
        md.add(sum(int(tick.R[m, k]) * z[k] for k in range(K)) >= units).only_enforce_if(use[m][o])
        arrive[(m, o, j)] = A
    present = [use[tick.modality[t]][tick.option[t]] if tick.option[t] >= 0 else None for t in range(tick.n)]
    S = [md.new_int_var(0, H, f"S{t}") for t in range(tick.n)]
    E = [md.new_int_var(0, H, f"E{t}") for t in range(tick.n)]
    x = [[md.new_bool_var(f"x{t}_{c}") for c in range(C)] for t in range(tick.n)]
    per_core: list[list[Any]] = [[] for _ in range(C)]
    for t in range(tick.n):
        if present[t] is None:
            md.add_exactly_one(x[t])
        else:
            md.add(sum(x[t]) == present[t])
        md.add(E[t] == S[t] + sum(int(tick.p[t, c]) * x[t][c] for c in range(C)))
        for c in range(C):
            per_core[c].append(
                md.new_optional_fixed_size_interval_var(S[t], int(tick.p[t, c]), x[t][c], f"I{t}_{c}")
            )
        if tick.option[t] >= 0:
            m, o, j = int(tick.modality[t]), int(tick.option[t]), int(tick.tile[t])
            md.add(S[t] >= arrive[(m, o, j)]).only_enforce_if(present[t])
    for c in range(C):
        md.add_no_overlap(per_core[c])
    for u, v, lag in zip(tick.src.tolist(), tick.dst.tolist(), tick.lag.tolist()):
        enforce = [present[u]] if present[u] is not None else []
        if not lag:
            md.add(S[v] >= E[u]).only_enforce_if(enforce)
            continue
        both = []
        for c in range(C):
            b = md.new_bool_var(f"same{u}_{v}_{c}")
            md.add_implication(b, x[u][c])
            md.add_implication(b, x[v][c])
            both.append(b)
        md.add(S[v] >= E[u] + lag - lag * sum(both)).only_enforce_if(enforce)
    T = md.new_int_var(0, H, "makespan")
    for t in range(tick.n):
        md.add(E[t] <= T)
    md.minimize(T)
    flat = [v for row in a for v in row] + [v for row in use for v in row] + S + [v for row in x for v in row]
    return CpSatModel(md, flat), {"M": M, "K": K, "C": C}


def _read_cpsat(tick: TickData, values: np.ndarray, sizes: dict[str, int]) -> Found:
    M, K, C = sizes["M"], sizes["K"], sizes["C"]
    n_opt = len(tick.options)
    a = values[: M * K].reshape(M, K)
    use = values[M * K : M * K + M * n_opt].reshape(M, n_opt)
    S = values[M * K + M * n_opt : M * K + M * n_opt + tick.n]
    x = values[M * K + M * n_opt + tick.n :].reshape(tick.n, C)
    owner = [int(np.argmax(a[:, k])) for k in range(K)]
    choice = [int(np.argmax(use[m])) for m in range(M)]
    tasks = active(tick, choice)
    core = {t: int(np.argmax(x[t])) for t in tasks}
    start = {t: float(S[t]) for t in tasks}
    return owner, choice, core, start


# --- MILP ---------------------------------------------------------------------------------


class _Cols:
    """Column bookkeeping for the MILP."""

    def __init__(self) -> None:
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.integer: list[bool] = []

    def add(self, n: int, lo: float, hi: float, integer: bool) -> np.ndarray:
        first = len(self.lo)
        self.lo += [lo] * n
        self.hi += [hi] * n
        self.integer += [integer] * n
        return np.arange(first, first + n)


def milp_model(tick: TickData, data: MultimodalData) -> tuple[LinearModel, dict[str, Any]]:
    """Disjunctive MILP of the tick model (big-M = horizon)."""
    H = float(tick.horizon)
    M, K, C, n = data.n_modalities, data.n_rbs, data.n_cores, tick.n
    n_opt = len(tick.options)
    cols = _Cols()
    a = cols.add(M * K, 0, 1, True).reshape(M, K)
    use = cols.add(M * n_opt, 0, 1, True).reshape(M, n_opt)
    S = cols.add(n, 0, H, False)
    x = cols.add(n * C, 0, 1, True).reshape(n, C)
    T = int(cols.add(1, 0, H, False)[0])
    keys = list(tick.B)
    A = dict(zip(keys, cols.add(len(keys), 0, H, True).tolist()))
    z = {key: cols.add(K, 0, H, False) for key in keys}
    rows: list[tuple[dict[int, float], float, float]] = []

    def row(coef: dict[int, float], lo: float = -np.inf, hi: float = np.inf) -> None:
        rows.append((coef, lo, hi))

    for k in range(K):
        row({int(a[m, k]): 1.0 for m in range(M)}, 1, 1)
    for m in range(M):
        row({int(use[m, o]): 1.0 for o in range(n_opt)}, 1, 1)
    for (m, o, j), units in tick.B.items():
        for k in range(K):
            row({int(z[(m, o, j)][k]): 1.0, A[(m, o, j)]: -1.0}, hi=0)
            row({int(z[(m, o, j)][k]): 1.0, int(a[m, k]): -H}, hi=0)
        coef = {int(z[(m, o, j)][k]): float(tick.R[m, k]) for k in range(K)}
        coef[int(use[m, o])] = -float(units)  # Σ R z ≥ B·use
        row(coef, lo=0)

    def dur(t: int) -> dict[int, float]:
        return {int(x[t, c]): float(tick.p[t, c]) for c in range(C)}

    def pres(t: int) -> int | None:
        return int(use[tick.modality[t], tick.option[t]]) if tick.option[t] >= 0 else None

    for t in range(n):
        p_t = pres(t)
        coef = {int(x[t, c]): 1.0 for c in range(C)}
        if p_t is None:
            row(coef, 1, 1)
        else:
            coef[p_t] = -1.0
            row(coef, 0, 0)
            # S_t ≥ A − H(1 − use)
            row(
                {
                    int(S[t]): 1.0,
                    A[(int(tick.modality[t]), int(tick.option[t]), int(tick.tile[t]))]: -1.0,
                    p_t: -H,
                },
                lo=-H,
            )
        row(_sum({T: 1.0, int(S[t]): -1.0}, _neg(dur(t))), lo=0)
    b_cols = []
    ancestors = _ancestors(tick)
    for u, v, lag in zip(tick.src.tolist(), tick.dst.tolist(), tick.lag.tolist()):
        # S_v ≥ S_u + p_u + lag (1 − Σ_c b_c) − H (1 − present_u)
        coef = _sum({int(S[v]): 1.0, int(S[u]): -1.0}, _neg(dur(u)))
        lo = float(lag)
        if lag:
            b = cols.add(C, 0, 1, False)
            b_cols.append(b)
            for c in range(C):
                row({int(b[c]): 1.0, int(x[u, c]): -1.0}, hi=0)
                row({int(b[c]): 1.0, int(x[v, c]): -1.0}, hi=0)
                coef[int(b[c])] = float(lag)
        p_u = pres(u)
        if p_u is not None:
            coef[p_u] = -H
            lo -= H
        row(coef, lo=lo)
    for u in range(n):
        for v in range(u + 1, n):
            if v in ancestors[u] or u in ancestors[v]:
                continue
            same_modality = (
                tick.option[u] >= 0 and tick.option[v] >= 0 and tick.modality[u] == tick.modality[v]
            )
            if same_modality and tick.option[u] != tick.option[v]:
                continue  # never both present
            y = int(cols.add(1, 0, 1, True)[0])
            for c in range(C):
                # u before v on c:  S_v ≥ S_u + p_u − H(1 − y) − H(2 − x_uc − x_vc)
                row(
                    _sum(
                        {int(S[v]): 1.0, int(S[u]): -1.0, y: -H},
                        _neg(dur(u)),
                        {int(x[u, c]): -H},
                        {int(x[v, c]): -H},
                    ),
                    lo=-3 * H,
                )
                # v before u on c:  S_u ≥ S_v + p_v − H y − H(2 − x_uc − x_vc)
                row(
                    _sum(
                        {int(S[u]): 1.0, int(S[v]): -1.0, y: H},
                        _neg(dur(v)),
                        {int(x[u, c]): -H},
                        {int(x[v, c]): -H},
                    ),
                    lo=-2 * H,
                )
    n_cols = len(cols.lo)
    values: list[float] = []
    ri: list[int] = []
    ci: list[int] = []
    for r, (coef, _, _) in enumerate(rows):
        for col, val in coef.items():
            ri.append(r)
            ci.append(col)
            values.append(val)
    A_mat = sp.csr_matrix((values, (ri, ci)), shape=(len(rows), n_cols))
    cost = np.zeros(n_cols)
    cost[T] = 1.0
    model = LinearModel(
        cost,
        A_mat,
        np.array([r[1] for r in rows], dtype=float),
        np.array([r[2] for r in rows], dtype=float),
        np.array(cols.lo, dtype=float),
        np.array(cols.hi, dtype=float),
        np.array(cols.integer, dtype=bool),
    )
    return model, {"a": a, "use": use, "S": S, "x": x}


def _neg(coef: dict[int, float]) -> dict[int, float]:
    return {k: -v for k, v in coef.items()}


def _sum(*parts: dict[int, float]) -> dict[int, float]:
    """Coefficients of several terms added column by column (a column may appear twice)."""
    out: dict[int, float] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0.0) + v
    return out


def _ancestors(tick: TickData) -> list[set[int]]:
    """Per task, the tasks it (transitively) depends on; tick tasks are in topological order."""
    preds: list[list[int]] = [[] for _ in range(tick.n)]
    for u, v in zip(tick.src.tolist(), tick.dst.tolist()):
        preds[v].append(u)
    out: list[set[int]] = [set() for _ in range(tick.n)]
    for v in range(tick.n):
        for u in preds[v]:
            out[v] |= out[u] | {u}
    return out


def _read_milp(tick: TickData, values: np.ndarray, cols: dict[str, Any]) -> Found:
    a, use, S, x = cols["a"], cols["use"], cols["S"], cols["x"]
    owner = [int(np.argmax(values[a[:, k]])) for k in range(a.shape[1])]
    choice = [int(np.argmax(values[use[m]])) for m in range(use.shape[0])]
    tasks = active(tick, choice)
    core = {t: int(np.argmax(values[x[t]])) for t in tasks}
    start = {t: float(values[S[t]]) for t in tasks}
    return owner, choice, core, start


# --- the method -------------------------------------------------------------------------------


def solve_exact(data: MultimodalData, kind: str, backend: str | None, options: SolveOptions) -> Result:
    """Solve the tick model with CP-SAT, the MILP or brute force; re-evaluate in continuous time."""
    from optsplit.solvers.registry import get_backend

    if data.policy != "static":
        raise InputError(
            f"the exact models cover the static RB policy only; this instance uses '{data.policy}' "
            "(use pacs or rtfs)",
            source=data.source,
            path=f"{KEY}.radio.policy",
        )
    t0 = time.perf_counter()
    start_sched, _ = heuristics.pacs(data)
    delta = data.resolution or start_sched.makespan / DEFAULT_TICKS
    provisional = build_ticks(data, delta, 1)
    owner0, choice0, core0, seq0 = _from_schedule(provisional, data, start_sched)
    upper = makespan(provisional, owner0, choice0, core0, seq0)
    assert upper is not None  # a list schedule's sequences agree with the edges
    tick = build_ticks(data, delta, upper)
    build_time = time.perf_counter() - t0
    metrics: dict[str, Any] = {
        "resolution": delta,
        "horizon_ticks": upper,
        "rounding_exact": tick.exact,
        "tasks": tick.n,
    }
    found: Found | None
    if kind == "brute":
        try:
            value, arg = brute_force(tick, data.n_cores, data.n_modalities, data.n_rbs)
        except ValueError as exc:
            raise InputError(f"too large for brute force: {exc}", source=data.source, path=KEY) from None
        start: dict[int, float] = {t: 0 for t in arg["core"]}
        for seq in arg["sequence"].values():
            for i, t in enumerate(seq):
                start[t] = i  # only the order on each core matters
        out = Outcome(
            Termination.OPTIMAL, SolutionStatus.OPTIMAL, float(value), float(value), 0.0, "enumeration"
        )
        found = (list(arg["owner"]), list(arg["choice"]), arg["core"], start)
    elif kind == "cpsat":
        model, sizes = cpsat_model(tick, data)
        out = get_backend(backend or "cpsat").solve(model, options)
        found = _read_cpsat(tick, out.values, sizes) if out.values is not None else None
    else:
        from optsplit.solvers import solve_linear

        model, cols = milp_model(tick, data)
        metrics.update(columns=model.num_cols, rows=model.num_rows)
        out = solve_linear(model, backend or "highs", options)
        found = _read_milp(tick, out.values, cols) if out.values is not None else None
    runtime = time.perf_counter() - t0
    bound, terms = lower_bound(data)
    metrics.update(lower_bound_terms=terms, build_time=build_time, tick_termination=out.termination.value)
    if out.bound is not None:
        # Rounding adds < 1 tick per arc of a longest path (≤ one per task, one arrival) and
        # the floored rates < 1 unit in 2^30: a tick bound, so corrected, bounds the continuous optimum.
        metrics["tick_bound"] = out.bound
        slack = tick.n + 1
        bound = max(bound, (out.bound - slack) * delta * (1 - 2.0**-20))
    if found is None:
        return Result(
            KEY,
            "",
            out.termination,
            SolutionStatus.NO_SOLUTION,
            None,
            bound,
            runtime,
            None,
            metrics,
            out.solver,
            log=out.log,
        )
    dec, finish = _decisions(data, tick, *found)
    objective = float(finish.max())
    metrics["tick_objective"] = out.objective
    metrics["chunks"] = dict(zip(data.modalities, dec.chunks))
    proven = out.termination is Termination.OPTIMAL and objective - bound <= OBJECTIVE_RELATIVE * objective
    if proven:
        termination, solution = Termination.OPTIMAL, SolutionStatus.OPTIMAL
    elif out.termination is Termination.OPTIMAL:
        # optimal at the resolution only: the continuous optimum may be lower (see the gap)
        termination, solution = Termination.HEURISTIC, SolutionStatus.FEASIBLE
    else:
        termination, solution = out.termination, SolutionStatus.FEASIBLE
    return Result(
        KEY,
        "",
        termination,
        solution,
        objective,
        bound,
        runtime,
        to_plan(data, dec, finish),
        metrics,
        out.solver,
        log=out.log,
    )
