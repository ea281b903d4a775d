"""The planners that need no solver: the baselines and the paper-style `intradp` heuristic.

A plan inside the planners is a vector of grid indices (share g/G per position). Every
candidate is scored by the vectorised C.4 recursion; the chosen plan is re-scored by the
evaluator (the schedule engine) before it is reported.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from optsplit.formulations.intradp.data import IntraDPData
from optsplit.formulations.intradp.layerwise import layered_path, min_cut, weights
from optsplit.formulations.intradp.recursion import figures, objective
from optsplit.formulations.intradp.slicing import GridTables, grid_exchanges, grid_tables

HEURISTIC_GRID = 10
# Intra-DP's share grid per candidate operator (from the authors' planner, C.4).
CANDIDATE_SHARES = (0.0, 0.5, 0.6, 0.7, 1.0)
CUT_ROUNDS = 3  # minimum cuts per plan, each excluding the edges found before (C.4)
MAX_GROUPS = 4  # candidate groups (the first operator's and up to three cut tensors')
ENERGY_BLENDS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)  # layer-wise weights tried for the energy objective


def score(data: IntraDPData, tables: GridTables, gidx: np.ndarray) -> np.ndarray:
    """Objective of plans given as grid indices (K, P); +inf where a bound is broken."""
    m, ex = grid_exchanges(data, tables, gidx)
    return objective(data, figures(data, m, ex))


def to_grid(shares: np.ndarray, grid: int) -> np.ndarray:
    """Grid indices of 0/1 (or on-grid) shares."""
    return np.rint(np.asarray(shares) * grid).astype(np.int64)


def all_local(data: IntraDPData, grid: int) -> np.ndarray:
    return np.full(data.n_positions, grid, dtype=np.int64)


def all_offload(data: IntraDPData, grid: int) -> np.ndarray:
    g = np.zeros(data.n_positions, dtype=np.int64)
    g[data.fixed] = grid
    return g


def layerwise_candidates(
    data: IntraDPData, tables: GridTables, latency_cut: np.ndarray | None = None
) -> list[np.ndarray]:
    """Layer-wise plans: the shortest layered path (chains) or the minimum cut (DAGs), for the
    latency weights and, for the energy objective, for blends of energy into them. A DAG's
    minimum cut for the latency weights may be passed in when the caller has it."""
    blends = (0.0,) if data.objective == "latency" else ENERGY_BLENDS
    out = []
    for lam in blends:
        if data.is_chain:
            x = layered_path(data, weights(data, tables, lam))
        elif lam == 0.0 and latency_cut is not None:
            x = latency_cut
        else:
            x = min_cut(data, weights(data, tables, lam))[0]
        out.append(to_grid(x, tables.grid))
    return out


@dataclass
class Planned:
    """A planner's choice (grid indices), its recursion score and what it tried."""

    gidx: np.ndarray
    value: float
    tried: int
    source: str
    notes: dict[str, object] = field(default_factory=dict)


def best_of(data: IntraDPData, tables: GridTables, named: dict[str, list[np.ndarray]]) -> Planned:
    """The best-scoring plan among named groups of candidates."""
    labels = [name for name, plans in named.items() for _ in plans]
    stack = np.array([g for plans in named.values() for g in plans])
    values = score(data, tables, stack)
    k = int(np.argmin(values))
    return Planned(stack[k], float(values[k]), len(stack), labels[k])


def plan_layerwise(data: IntraDPData, tables: GridTables) -> Planned:
    """Best layer-wise partition, falling back to all-local / all-offload when they are better."""
    return best_of(
        data,
        tables,
        {
            "layerwise": layerwise_candidates(data, tables),
            "all-local": [all_local(data, tables.grid)],
            "all-offload": [all_offload(data, tables.grid)],
        },
    )


def cut_rounds(data: IntraDPData, tables: GridTables) -> list[tuple[np.ndarray, list[int]]]:
    """Up to CUT_ROUNDS minimum cuts for the latency weights, each forbidding the edges cut
    before: (shares, cut edges) per round, the first being the layer-wise DAG partition."""
    w = weights(data, tables, 0.0)
    forbidden: set[int] = set()
    out = []
    for _ in range(CUT_ROUNDS):
        x, cut = min_cut(data, w, frozenset(forbidden))
        out.append((x, cut))
        if not cut:
            break
        forbidden |= set(cut)
    return out


def candidate_groups(data: IntraDPData, cuts: list[list[int]]) -> list[list[int]]:
    """Positions whose share the search sets, grouped (consumers of one tensor move together):
    the first operators, then the consumers of the tensors each minimum cut crosses."""
    src, dst = data.edge_src, data.edge_dst
    groups: list[list[int]] = [sorted({int(c) for c in dst[src == 0]})]
    for cut in cuts:
        for q in dict.fromkeys(int(src[e]) for e in cut):
            group = sorted({int(c) for c in dst[data.out_edges[q]] if not data.fixed[c]})
            if group and group not in groups:
                groups.append(group)
    return groups[:MAX_GROUPS]


def fill(data: IntraDPData, grid: int, groups: list[list[int]], values: np.ndarray) -> np.ndarray:
    """Plans from group shares (K, groups): a group's positions take its share, every other
    position the least share of its inputs (C.4's tie rule); barriers round at one half.

    A local position outside the groups with a single input copies that input's column, so
    only the others (groups, barriers, several inputs, fixed) are computed in order, reading
    their inputs through the copies, and the copies are gathered once at the end.
    """
    k = values.shape[0]
    p = data.n_positions
    set_at = np.full(p, -1)
    for gi, group in enumerate(groups):
        set_at[group] = gi
    parents = data.parents
    source = np.arange(p)  # the computed column each position's value equals
    g = np.empty((p, k), dtype=np.int64)  # one row per position: contiguous per-position work
    g[0] = grid
    for j in range(1, p):
        ins = source[parents[j]]
        if set_at[j] < 0 and data.local[j] and not data.fixed[j] and ins.size == 1:
            source[j] = ins[0]
            continue
        if data.fixed[j]:
            g[j] = grid
            continue
        col = values[:, set_at[j]] if set_at[j] >= 0 else g[ins].min(axis=0)
        g[j] = col if data.local[j] else np.where(2 * col >= grid, grid, 0)
    return np.ascontiguousarray(g[source].T)


def plan_intradp(data: IntraDPData, tables: GridTables) -> Planned:
    """Intra-DP's planner: min-cut candidates × the share grid, filled and scored by the
    recursion, against the layer-wise plan and all-local / all-offload."""
    cuts = cut_rounds(data, tables)
    groups = candidate_groups(data, [cut for _, cut in cuts])
    shares = to_grid(np.array(CANDIDATE_SHARES), tables.grid)
    combos = np.array(list(itertools.product(shares, repeat=len(groups))), dtype=np.int64)
    searched = fill(data, tables.grid, groups, combos)
    best = best_of(
        data,
        tables,
        {
            "grid search": list(searched),
            "layerwise": layerwise_candidates(data, tables, None if data.is_chain else cuts[0][0]),
            "all-local": [all_local(data, tables.grid)],
            "all-offload": [all_offload(data, tables.grid)],
        },
    )
    best.notes = {"candidate_groups": [[data.names[j] for j in grp] for grp in groups]}
    return best


@dataclass(frozen=True)
class TableRow:
    """One bandwidth of a plan table: the plan made for it, its score there, planning time."""

    bandwidth: float
    gidx: np.ndarray
    value: float
    plan_time: float
    source: str


def plan_table(data: IntraDPData, bandwidths: list[float]) -> list[TableRow]:
    """Plans precomputed per uplink bandwidth (MB/s), as Intra-DP switches them at run time."""
    tables = grid_tables(data, HEURISTIC_GRID)
    rows = []
    for b in sorted(set(float(v) for v in bandwidths)):
        t0 = time.perf_counter()
        planned = plan_intradp(data.with_bandwidth(b), tables)
        rows.append(TableRow(b, planned.gidx, planned.value, time.perf_counter() - t0, planned.source))
    return rows


def lookup(table: list[TableRow], bandwidth: float) -> TableRow:
    """The row planned for the largest table bandwidth not above ``bandwidth``; on a link slower
    than every row, the slowest row (clipped to the table, as Intra-DP's runtime does)."""
    below = [row for row in table if row.bandwidth <= bandwidth]
    return below[-1] if below else table[0]
