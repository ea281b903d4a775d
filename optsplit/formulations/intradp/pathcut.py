"""Path inequalities for the MILP: along a path of the DAG, whole operators add up.

Call an operator *whole* at a grid index when its device rows are all (m = L) or none (m = 0)
of its output, *split* otherwise. Take a path p_0 → p_1 → … of data edges and the whole
operators on it, w_1 < w_2 < … (positions), each with its clock K(w) = D_w on the device or
S_w on the server. In the recursion C.4:

* same side: D (or S) never decreases along the positions, so K(w_{k+1}) ≥ K(w_k) + t(w_{k+1});
* w_k on the device, w_{k+1} on the server: some rows go up at a position q in [w_k, w_{k+1})
  (w_k itself when adjacent on the path, else the split producer q just before w_{k+1}, whose
  device tile the whole consumer reads), so S_{w_{k+1}} ≥ U_q + t^s ≥ D_{w_k} + t^s; when the
  two are adjacent, the airtime of the rows the consumer reads comes on top (the producer
  holds them all on the device). Server → device is symmetric (downlink, W).

Hence T = D_end ≥ Σ_{w} t(w) + Σ_{adjacent crossings} airtime: linear in the one-hot shares
with v_e ≥ whole_dev(q) + whole_srv(c) − 1 per path edge e = q → c and direction. A split
operator counts nothing, so the inequality holds for every plan; it removes the LP's
"a fraction of the plan on each side" points (a convex mixture of the all-local and the
all-offload plans pays no synchronisation in the recursion rows, but pays both here).

A split run R between whole w_k and w_{k+1} also pays its boundary airtimes: the device
branch starts from the downlink when w_k is on the server (D_r ≥ W_{w_k} + dev_r ≥ S_{w_k} +
down_start + dev_r) and ends through the uplink when w_{k+1} is on the server (S ≥ U_q + t^s ≥
D_q + up_end + t^s); the server branch symmetrically. So K(w_{k+1}) − K(w_k) − t(w_{k+1}) ≥
max(Σ_R dev + [w_k srv]·down_start + [w_{k+1} srv]·up_end, Σ_R srv + [w_k dev]·up_start +
[w_{k+1} dev]·down_end), and the θ-row charges θ resp. 1 − θ of each boundary airtime
(``boundary_costs``; a trailing run has no end edge and T ≥ D, S after it). In potential form
Φ = θD + (1 − θ)S over the run's positions: where a split consumer c exchanges rows of a
split producer q both ways, D_c ≥ μD_q + (1 − μ)(S_q + down) + dev_c and S_c ≥ νS_q + (1 − ν)
(D_q + up) + srv_c for any μ, ν in [0, 1]; choosing θ(1 − μ) = (1 − θ)(1 − ν) = min(θ, 1 − θ)
keeps the form and adds min(θ, 1 − θ)·(up + down) (the halo synchronisation). The boundary term
is a function of both ends of the edge, bounded below by pair rows (``pairrows``).

The argument for a split producer needs the whole consumer to read at least one row of each
tile: row 0 on the server (lo = 0 at m_c = 0) and the last row on the device (hi = L_q at
m_c = L_c). Edges where that fails are left out of the paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsplit.formulations.intradp.data import IntraDPData
from optsplit.formulations.intradp.slicing import GridTables

THETAS = (0.0, 0.25, 0.5, 0.75, 1.0)  # weights of a split run's device vs server work


@dataclass(frozen=True)
class PathCut:
    """A path of the DAG: its positions in order and the data edges joining them."""

    positions: np.ndarray  # the path, in position order
    edges: np.ndarray  # data edge indices between consecutive positions


def whole_masks(data: IntraDPData, t: GridTables) -> tuple[np.ndarray, np.ndarray]:
    """(P, G + 1) masks: grid indices where the position is whole on the device / the server."""
    return t.m == data.rows[:, None], t.m == 0


def _edge_ok(data: IntraDPData, t: GridTables) -> np.ndarray:
    """Edges across which the chaining argument holds (see the module docstring)."""
    src, dst = data.edge_src, data.edge_dst
    on_dev, on_srv = whole_masks(data, t)
    splittable = data.local & ~data.fixed
    e = np.arange(src.size)
    g_srv = np.argmax(on_srv[dst] & t.allowed[dst], axis=1)
    g_dev = np.argmax(on_dev[dst] & t.allowed[dst], axis=1)
    can_srv = (on_srv[dst] & t.allowed[dst]).any(axis=1)
    reads_first = ~can_srv | (t.lo[e, g_srv] == 0)
    reads_last = t.hi[e, g_dev] == data.rows[src]
    # a split consumer's parts each read some row of the producer (so a whole producer sends)
    split_c = t.allowed[dst] & ~on_dev[dst] & ~on_srv[dst]
    rows_p = data.rows[src][:, None]
    parts_read = np.all(~split_c | ((t.lo < rows_p) & (t.hi > 0)), axis=1)
    return parts_read & (~splittable[src] | (reads_first & reads_last))


def heaviest_path(data: IntraDPData, weight: np.ndarray, ok: np.ndarray) -> PathCut:
    """The path from the input of largest total weight over usable edges (DP in position order)."""
    p = data.n_positions
    best = np.full(p, -np.inf)
    best[0] = weight[0]
    via = np.full(p, -1)
    order = np.argsort(data.edge_dst, kind="stable")
    for e in order.tolist():  # edges by consumer: every producer is final before its consumers
        q, c = int(data.edge_src[e]), int(data.edge_dst[e])
        if ok[e] and best[q] + weight[c] > best[c]:
            best[c], via[c] = best[q] + weight[c], e
    j = int(np.argmax(best))
    edges = []
    while via[j] >= 0:
        edges.append(int(via[j]))
        j = int(data.edge_src[via[j]])
    edges.reverse()
    positions = np.array([j, *(int(data.edge_dst[e]) for e in edges)], dtype=np.int64)
    return PathCut(positions, np.array(edges, dtype=np.int64))


def path_cuts(data: IntraDPData, t: GridTables) -> list[PathCut]:
    """The heaviest paths by device time and by server time (one when they coincide)."""
    ok = _edge_ok(data, t)
    out: list[PathCut] = []
    for weight in (data.t_dev, data.t_srv):
        cut = heaviest_path(data, weight, ok)
        if cut.edges.size and not any(np.array_equal(cut.positions, c.positions) for c in out):
            out.append(cut)
    return out


def boundary_costs(data: IntraDPData, t: GridTables, edges: np.ndarray, theta: float) -> np.ndarray:
    """(len(edges), G + 1, G + 1): the θ-weighted airtime a path edge adds where a split run
    starts (whole producer, split consumer), ends (split producer, whole consumer) or
    synchronises inside (both split, rows crossing both ways: min(θ, 1 − θ)·(up + down)), per
    (producer index, consumer index); zero elsewhere (the whole–whole crossings are the v's)."""
    src, dst = data.edge_src[edges], data.edge_dst[edges]
    on_dev, on_srv = whole_masks(data, t)
    m = t.m[src][:, :, None]
    lo, hi = t.lo[edges][:, None, :], t.hi[edges][:, None, :]
    up = np.maximum(0, m - lo) * (data.row_bytes[src] / data.up_rate)[:, None, None]
    down = np.maximum(0, hi - m) * (data.row_bytes[src] / data.down_rate)[:, None, None]
    dq, sq = on_dev[src][:, :, None], on_srv[src][:, :, None]
    dc, sc = on_dev[dst][:, None, :], on_srv[dst][:, None, :]
    split_q, split_c = ~(dq | sq), ~(dc | sc)
    start = split_c * (dq * (1 - theta) * up + sq * theta * down)
    end = split_q * (sc * theta * up + dc * (1 - theta) * down)
    kappa = min(theta, 1 - theta)
    sync = split_q & split_c & (up > 0) & (down > 0)
    return start + end + sync * kappa * (up + down)
