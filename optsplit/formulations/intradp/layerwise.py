"""Layer-wise partitions (every share 0 or 1): the two-row layered graph on chains, the
DADS-style s-t minimum cut on DAGs, and the weights both use.

With whole operators on one side and no overlap, a chain's latency is the sum of the chosen
compute times and of the tensors that cross; its device energy too is such a sum (the device
computes, sends, receives or waits one thing at a time). On a DAG the minimum cut scores a
partition by the same sum (no branch overlap), keeping every path device → server (DADS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from optsplit.formulations.intradp.data import IntraDPData
from optsplit.formulations.intradp.slicing import GridTables
from optsplit.solvers.graph import shortest_path


@dataclass(frozen=True)
class Weights:
    """Per position: cost on the device, on the server; per edge: cost of sending the tensor
    up (producer on the device, consumer on the server) or down."""

    dev: np.ndarray
    srv: np.ndarray
    up: np.ndarray
    down: np.ndarray


def whole_transfers(data: IntraDPData, tables: GridTables) -> tuple[np.ndarray, np.ndarray]:
    """Seconds to send, per edge, what the consumer reads when producer and consumer sit on
    opposite sides (exact rows: the consumer's whole-side need of the producer's tensor)."""
    src, g = data.edge_src, tables.grid
    rows_p = data.rows[src]
    up_rows = rows_p - tables.lo[:, 0]  # consumer all on the server reads rows ≥ lo
    down_rows = tables.hi[:, g]  # consumer all on the device reads rows < hi
    return up_rows * data.row_bytes[src] / data.up_rate, down_rows * data.row_bytes[src] / data.down_rate


def weights(data: IntraDPData, tables: GridTables, energy_weight: float = 0.0) -> Weights:
    """Latency weights blended with device-energy weights: (1 − λ)·P_idle·time + λ·energy,
    so both terms are in joules and λ = 0 ranks by latency alone."""
    up_t, down_t = whole_transfers(data, tables)
    pw, lam = data.power, energy_weight
    scale = max(pw.idle, 1e-9)

    def blend(time: np.ndarray, power: float) -> np.ndarray:
        return (1 - lam) * scale * time + lam * power * time

    return Weights(
        blend(data.t_dev, pw.compute),
        blend(data.t_srv, pw.idle),
        blend(up_t, pw.idle + pw.transmit),
        blend(down_t, pw.idle + pw.receive),
    )


def layered_path(data: IntraDPData, w: Weights) -> np.ndarray:
    """Shares (0/1 per position) of the shortest path through the two-row layered graph of a
    chain: vertex 2j + side (side 0 device, 1 server); the input and ``end`` on the device."""
    p = data.n_positions
    edge_of = {int(c): e for e, c in enumerate(data.edge_dst)}  # chain: one input per position
    tails, heads, cost = [], [], []
    for j in range(1, p):
        e = edge_of[j]
        sides_to = (0,) if data.fixed[j] else (0, 1)
        sides_from = (0,) if data.fixed[j - 1] else (0, 1)
        for a in sides_from:
            for b in sides_to:
                c = w.dev[j] if b == 0 else w.srv[j]
                if a == 0 and b == 1:
                    c += w.up[e]
                elif a == 1 and b == 0:
                    c += w.down[e]
                tails.append(2 * (j - 1) + a)
                heads.append(2 * j + b)
                cost.append(c)
    # Dijkstra drops zero-weight edges of a sparse matrix: lift every edge by one unit of a
    # constant (each path has p - 1 edges, so the order of paths is unchanged).
    lift = 1.0 + float(np.max(cost, initial=0.0))
    graph = sp.csr_matrix((np.array(cost) + lift, (tails, heads)), shape=(2 * p, 2 * p))
    path = shortest_path(graph, 0, 2 * (p - 1)).vertices
    x = np.ones(p)
    for v in path:
        x[v // 2] = 1.0 - v % 2
    return x


INF_FLOW = 2**30


def min_cut(
    data: IntraDPData, w: Weights, forbidden: frozenset[int] = frozenset()
) -> tuple[np.ndarray, list[int]]:
    """DADS-style partition: shares (1 device / 0 server) of a minimum s-t cut, and the edges
    it cuts. Source side = device; s → v costs v's server time (paid if v is on the server),
    v → t its device time; a tensor crossing up is paid once (auxiliary vertex per producer);
    a consumer may not sit on the device below a producer on the server (infinite back edge);
    a result left on the server pays its way down. Edges in ``forbidden`` are never cut."""
    p = data.n_positions
    src, dst = data.edge_src, data.edge_dst
    end = p - 1
    inner = dst != end
    producers, fan_out = np.unique(src[inner], return_counts=True)
    # The auxiliary vertex of a producer with one consumer is that consumer itself.
    aux = np.full(p, -1)
    shared = fan_out > 1
    aux[producers[shared]] = p + np.arange(int(shared.sum()))
    sole = np.flatnonzero(inner)[np.isin(src[inner], producers[~shared])]
    aux[src[sole]] = dst[sole]
    s, t = p + int(shared.sum()), p + int(shared.sum()) + 1
    ops = np.arange(1, p - 1)
    down_cost = np.bincount(src[~inner], w.down[~inner], minlength=p)
    up_cost = np.zeros(p)
    np.maximum.at(up_cost, src[inner], w.up[inner])
    blocked = np.zeros(p, dtype=bool)
    if forbidden:
        f = np.array(sorted(forbidden))
        blocked[src[f[inner[f]]]] = True
    up_cap = np.where(blocked[producers], np.inf, up_cost[producers])
    e_in = np.flatnonzero(inner)
    tails = np.concatenate(([s], np.full(ops.size, s), ops, producers, aux[src[e_in]], dst[e_in]))
    heads = np.concatenate(([0], ops, np.full(ops.size, t), aux[producers], dst[e_in], src[e_in]))
    caps = np.concatenate(
        ([np.inf], w.srv[ops] + down_cost[ops], w.dev[ops], up_cap, np.full(2 * e_in.size, np.inf))
    )
    keep = tails != heads  # the sole consumers' loops aux → consumer
    tails, heads, caps = tails[keep], heads[keep], caps[keep]
    finite = np.isfinite(caps)
    total = float(caps[finite].sum()) or 1.0
    scale = (INF_FLOW // 4) / total
    cap = np.where(finite, np.rint(np.where(finite, caps, 0.0) * scale), INF_FLOW).astype(np.int32)
    # Push the flow s → v → t of every operator beforehand: the residual network, and so the
    # cut found, is the same, and the solver is left with the flow through the data edges.
    to_v, from_v = slice(1, 1 + ops.size), slice(1 + ops.size, 1 + 2 * ops.size)
    direct = np.minimum(cap[to_v], cap[from_v])
    cap[to_v] -= direct
    cap[from_v] -= direct
    n = t + 1
    graph = sp.csr_matrix((cap, (tails, heads)), shape=(n, n))
    graph.sum_duplicates()
    graph.eliminate_zeros()
    flow = maximum_flow(graph, s, t).flow
    residual = (graph - flow).tocsr()
    residual.data = np.maximum(residual.data, 0)
    residual.eliminate_zeros()
    reach = np.zeros(n, dtype=bool)
    reach[breadth_first_order(residual, s, directed=True, return_predecessors=False)] = True
    x = np.where(reach[:p], 1.0, 0.0)
    x[data.fixed] = 1.0
    cut = np.flatnonzero((dst != end) & (x[src] == 1) & (x[dst] == 0)).tolist()
    return x, cut
