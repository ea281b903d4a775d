"""The node-selection MILP ("existing" style): binary placement, pairwise transfer costs.

y[k, v] = 1 when layer k runs at v. The transfer of tensor b between the nodes of
layers b and b+1 costs C_b[u, v], the shortest u→v time for that tensor, and enters
the objective through q[b, u, v] ≥ y[b, u] + y[b+1, v] − 1 (McCormick; the upper
envelopes are dropped because every cost is ≥ 0). Pairs with no route, or slower than a
known plan, are forbidden by y[b, u] + y[b+1, v] ≤ 1. Its LP relaxation is weak, so the
solver has to branch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from optsplit.formulations.routing.data import RoutingData
from optsplit.solvers.graph import EdgeList, all_pairs, walk_predecessors
from optsplit.solvers.linear import LinearModel


@dataclass
class Boundary:
    """Tensor b travels from a node of ``sources`` to a node of ``targets``."""

    sources: np.ndarray  # candidate nodes of position b (layer b; s for b = 0)
    targets: np.ndarray  # candidate nodes of position b+1 (layer b+1; d for b = K)
    cost: np.ndarray  # (|sources|, |targets|) shortest transfer time, inf if no route
    pred: np.ndarray  # (|sources|, V) predecessor rows for the routes


@dataclass
class NodeSelectionMILP:
    """The LinearModel plus the index maps needed to read a plan back."""

    model: LinearModel
    candidates: list[np.ndarray]  # candidates[k-1] = nodes allowed for layer k
    y_start: list[int]  # column of y[k, candidates[k-1][0]]
    boundaries: list[Boundary]
    q_start: list[int]  # first q column of boundary b (allowed pairs, row-major)
    q_pairs: list[np.ndarray]  # (n_b, 2) local indices (i, j) of those pairs


def boundaries(data: RoutingData) -> list[Boundary]:
    """Shortest transfer time of each tensor between every pair of candidate positions."""
    V, K = data.num_nodes, data.num_layers
    candidates = [np.flatnonzero(np.isfinite(data.compute[k])) for k in range(K)]
    positions = [np.array([data.source]), *candidates, np.array([data.destination])]
    out = []
    for b in range(K + 1):
        graph = EdgeList(V, data.tail, data.head, data.transfer_weights(b)).to_csr()
        dist, pred = all_pairs(graph, positions[b])
        out.append(Boundary(positions[b], positions[b + 1], dist[:, positions[b + 1]], pred))
    return out


def single_node(data: RoutingData, bounds: list[Boundary]) -> tuple[list[int], float] | None:
    """Best node to run every layer on (input routed in, result routed out), with its latency."""
    able = np.isfinite(data.compute).all(axis=0)
    first, last = bounds[0], bounds[-1]
    total = np.full(data.num_nodes, np.inf)
    for v in np.flatnonzero(able):
        j = int(np.flatnonzero(first.targets == v)[0])
        i = int(np.flatnonzero(last.sources == v)[0])
        total[v] = first.cost[0, j] + data.compute[:, v].sum() + last.cost[i, 0]
    if not np.isfinite(total).any():
        return None
    best = int(np.argmin(total))
    return [best] * data.num_layers, float(total[best])


def _restrict(bounds: list[Boundary], keep: list[np.ndarray]) -> list[Boundary]:
    """The boundaries between kept candidates only (keep[k-1] masks the nodes of layer k)."""
    ends = [np.ones(1, dtype=bool), *keep, np.ones(1, dtype=bool)]
    return [
        Boundary(
            bd.sources[ends[b]],
            bd.targets[ends[b + 1]],
            bd.cost[np.ix_(ends[b], ends[b + 1])],
            bd.pred[ends[b]],
        )
        for b, bd in enumerate(bounds)
    ]


def build(
    data: RoutingData, bounds: list[Boundary], limit: float = np.inf, named: bool = False
) -> NodeSelectionMILP:
    """Assemble the MILP with sparse matrices (no Python loop over variables), in seconds.

    A node whose compute time exceeds ``limit`` (the latency of a known plan) is no
    candidate for that layer, and a pair whose transfer exceeds it is forbidden like a
    pair with no route: neither can be part of a plan better than the known one. With
    ``named``, columns are y(k,v) and q(b,u,v), rows one_hot(k), pair(b,u,v) and forbid(b,u,v).
    """
    K = data.num_layers
    keep = [data.compute[k, bd.targets] <= limit for k, bd in enumerate(bounds[:K])]
    bounds = _restrict(bounds, keep)
    candidates = [bd.targets for bd in bounds[:K]]
    y_start = np.concatenate([[0], np.cumsum([c.size for c in candidates])]).astype(int)
    n_y = int(y_start[-1])
    labels = data.labels
    col_names = [f"y({k + 1},{labels[v]})" for k in range(K) for v in candidates[k]] if named else []
    row_names = [f"one_hot({k + 1})" for k in range(K)] if named else []

    costs, rows, cols, vals, lo, hi = [np.array([])], [], [], [], [], []
    costs[0] = np.concatenate([data.compute[k, candidates[k]] for k in range(K)])
    n_rows, n_cols = 0, n_y
    # one-hot: Σ_v y[k, v] = 1
    for k in range(K):
        rows.append(np.full(candidates[k].size, n_rows + k))
        cols.append(y_start[k] + np.arange(candidates[k].size))
        vals.append(np.ones(candidates[k].size))
    lo.append(np.ones(K))
    hi.append(np.ones(K))
    n_rows += K

    q_start, q_pairs = [], []
    for b, bd in enumerate(bounds):
        allowed = np.isfinite(bd.cost) & (bd.cost <= limit)
        i_f, j_f = np.nonzero(allowed)
        i_x, j_x = np.nonzero(~allowed)
        q_start.append(n_cols)
        q_pairs.append(np.stack([i_f, j_f], axis=1))
        # y columns of the two ends; position 0 (source) and K+1 (destination) are constants
        for i_idx, j_idx, kind in ((i_f, j_f, "pair"), (i_x, j_x, "forbid")):
            m = i_idx.size
            if m == 0:
                continue
            r = n_rows + np.arange(m)
            const = 0.0
            parts = []
            if b > 0:
                parts.append(y_start[b - 1] + i_idx)
            else:
                const += 1.0
            if b < K:
                parts.append(y_start[b] + j_idx)
            else:
                const += 1.0
            for p in parts:
                rows.append(r)
                cols.append(p)
                vals.append(np.ones(m))
            if kind == "pair":  # y_u + y_v - q <= 1
                rows.append(r)
                cols.append(n_cols + np.arange(m))
                vals.append(-np.ones(m))
                costs.append(bd.cost[i_idx, j_idx])
                n_cols += m
            # else y_u + y_v <= 1
            if named:
                pairs = [
                    f"({b},{labels[u]},{labels[v]})" for u, v in zip(bd.sources[i_idx], bd.targets[j_idx])
                ]
                row_names += [kind + p for p in pairs]
                if kind == "pair":
                    col_names += ["q" + p for p in pairs]
            lo.append(np.full(m, -np.inf))
            hi.append(np.full(m, 1.0 - const))
            n_rows += m

    A = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_cols)
    )
    integer = np.zeros(n_cols, dtype=bool)
    integer[:n_y] = True
    col_upper = np.full(n_cols, np.inf)
    col_upper[:n_y] = 1.0
    model = LinearModel(
        c=np.concatenate(costs),
        A=A,
        row_lower=np.concatenate(lo),
        row_upper=np.concatenate(hi),
        col_lower=np.zeros(n_cols),
        col_upper=col_upper,
        integer=integer,
        col_names=col_names or None,
        row_names=row_names or None,
    )
    return NodeSelectionMILP(model, candidates, list(y_start[:-1]), bounds, q_start, q_pairs)


def latency(data: RoutingData, bounds: list[Boundary], placement: list[int]) -> float:
    """Latency of a placement with shortest routes, summed from the data (not the solver)."""
    positions = [data.source, *placement, data.destination]
    total = sum(data.compute[k, v] for k, v in enumerate(placement))
    for b, bd in enumerate(bounds):
        i = int(np.flatnonzero(bd.sources == positions[b])[0])
        j = int(np.flatnonzero(bd.targets == positions[b + 1])[0])
        total += bd.cost[i, j]
    return float(total)


def placement_indices(milp: NodeSelectionMILP, x: np.ndarray) -> list[int] | None:
    """Node index of each layer from the y columns (None if a layer has no y near 1)."""
    out = []
    for k, cand in enumerate(milp.candidates):
        y = x[milp.y_start[k] : milp.y_start[k] + cand.size]
        j = int(np.argmax(y))
        if y[j] < 0.5:
            return None
        out.append(int(cand[j]))
    return out


def plan_from_placement(data: RoutingData, bounds: list[Boundary], placement: list[int]) -> dict:
    """Plan dict with each tensor's route recovered from the stored shortest-path trees."""
    positions = [data.source, *placement, data.destination]
    paths = []
    for b, bd in enumerate(bounds):
        i = int(np.flatnonzero(bd.sources == positions[b])[0])
        route = walk_predecessors(bd.pred[i], positions[b], positions[b + 1])
        paths.append([data.names[v] for v in route])
    return {"placement": [data.names[v] for v in placement], "paths": paths}


def start_vector(milp: NodeSelectionMILP, placement: list[int]) -> np.ndarray:
    """Full column vector (y and q) for a placement, used as a MIP start."""
    x = np.zeros(milp.model.num_cols)
    local = []
    for k, cand in enumerate(milp.candidates):
        j = int(np.flatnonzero(cand == placement[k])[0])
        x[milp.y_start[k] + j] = 1.0
        local.append(j)
    ends = [0, *local, 0]
    for b, pairs in enumerate(milp.q_pairs):
        hit = np.flatnonzero((pairs[:, 0] == ends[b]) & (pairs[:, 1] == ends[b + 1]))
        x[milp.q_start[b] + hit] = 1.0
    return x
