"""The exact MILP on a share grid (C.5, with the exact halo of the contiguous-tile rule).

Columns: u[j, g] (position j takes share g/G, one-hot), zu[j] / zd[j] (position j's tensor
crosses up / down), tu[j] / td[j] (airtime, s), and the clocks D, S, U, W (device, server,
uplink, downlink) after every position. Rows: one-hot; per data edge p → c, airtime ≥ the
rows the server's part of c lacks (held_p − lo_c) or the device's part lacks (hi_c − held_p),
each linear in u (tables of exact rows per grid point); tu ≤ max·zu; and the recursion:
    D_j ≥ D_{j−1} + dev_j,  D_j ≥ W_{j−1} + dev_j,  S_j ≥ S_{j−1} + srv_j,  S_j ≥ U_{j−1} + srv_j,
    U_j ≥ U_{j−1} + tu_j,   U_j ≥ D_j + tu_j − M_j (1 − zu_j),   (W symmetric with S, td, zd).
Every max(0, ·) is met from above, and a larger airtime or clock never lowers the objective,
so the optimum equals the recursion's value of the optimal grid plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from optsplit.formulations.intradp import pairrows, pathcut
from optsplit.formulations.intradp.data import IntraDPData
from optsplit.formulations.intradp.layerwise import whole_transfers
from optsplit.formulations.intradp.recursion import Durations, clocks
from optsplit.formulations.intradp.slicing import GridTables
from optsplit.solvers.linear import LinearModel


@dataclass(frozen=True, eq=False)
class Layout:
    """Column offsets of the MILP's variable blocks."""

    p: int
    g1: int  # G + 1
    # after the clocks: per path edge and direction, (producer, consumer, upwards) of the
    # crossing indicator v of the path inequalities
    crossings: tuple[tuple[int, int, bool], ...] = ()
    # after the v's: per path, θ and edge with a split-run boundary, the airtime column w,
    # its edge's (producer, consumer) and its cost table (producer index, consumer index)
    boundary: tuple[Boundary, ...] = ()

    @property
    def w(self) -> int:
        return self.block(8) + len(self.crossings)

    @property
    def u(self) -> int:
        return 0

    def block(self, k: int) -> int:
        """Start of the k-th per-position block after u: zu, zd, tu, td, D, S, U, W."""
        return self.p * self.g1 + k * self.p

    @property
    def n(self) -> int:
        return self.w + len(self.boundary)


@dataclass(frozen=True, eq=False)
class Boundary:
    """One boundary-airtime column w of a path inequality (``pathcut.boundary_costs``)."""

    cut: int
    theta: int  # index into pathcut.THETAS
    producer: int
    consumer: int
    cost: np.ndarray  # (G + 1, G + 1)


ZU, ZD, TU, TD, DC, SC, UC, WC = range(8)


class _Rows:
    """Collects sparse rows lower ≤ a·x ≤ upper."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add(self, cols: np.ndarray, vals: np.ndarray, lo: float, hi: float) -> None:
        self.r.append(np.full(len(cols), len(self.lo)))
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.asarray(vals, dtype=float))
        self.lo.append(lo)
        self.hi.append(hi)

    def matrix(self, n: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        a = sp.csr_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(len(self.lo), n),
        )
        a.sum_duplicates()
        return a, np.array(self.lo), np.array(self.hi)


def build(
    data: IntraDPData,
    t: GridTables,
    cutoff: float | None = None,
    paths: bool = True,
    pairs: bool = False,
    boundaries: bool = False,
) -> tuple[LinearModel, Layout]:
    """The MILP of ``data`` on the grid of ``t``. ``cutoff``: a latency no better plan
    exceeds (an incumbent's), used as the clocks' upper bound and in the big-M; ``paths``:
    add the path inequalities (module ``pathcut``); ``pairs``: the pair rows (``pairrows``);
    ``boundaries``: the split-run boundary and synchronisation airtimes in the path rows."""
    p, g1 = data.n_positions, t.grid + 1
    cuts = pathcut.path_cuts(data, t) if paths else []
    crossings = tuple(
        (int(data.edge_src[e]), int(data.edge_dst[e]), up)
        for cut in cuts
        for e in cut.edges.tolist()
        for up in (True, False)
    )
    boundary = _boundaries(data, t, cuts) if boundaries else ()
    lay = Layout(p, g1, crossings, boundary)
    inf = np.inf
    ucol = np.arange(p * g1).reshape(p, g1)
    blk = [lay.block(k) + np.arange(p) for k in range(8)]
    frac = t.m / data.rows[:, None]
    dev_coef = data.t_dev[:, None] * frac  # dev_j = Σ_g dev_coef[j, g] u[j, g]
    srv_coef = data.t_srv[:, None] * (1 - frac)
    up_sec = data.row_bytes / data.up_rate  # per row of each position's tensor
    down_sec = data.row_bytes / data.down_rate
    tu_max = data.rows * up_sec
    td_max = data.rows * down_sec
    # Every clock is at most the latency (the valid cuts below), so at most the bound or the
    # cutoff; and at most all work and airtime up to j. M_j of the link rows is that cap.
    bound = data.latency_bound if data.objective == "energy" else None
    cap = min(v for v in (cutoff, bound, np.inf) if v is not None)
    big = np.minimum(np.cumsum(data.t_dev + data.t_srv + tu_max + td_max), cap)

    rows = _Rows()
    for j in range(p):
        rows.add(ucol[j], np.ones(g1), 1.0, 1.0)
    for e, (q, c) in enumerate(zip(data.edge_src.tolist(), data.edge_dst.tolist())):
        # tu_q − up_sec_q (Σ m[q, g] u[q, g] − Σ lo[e, h] u[c, h]) ≥ 0
        cols = np.concatenate(([blk[TU][q]], ucol[q], ucol[c]))
        vals = np.concatenate(([1.0], -up_sec[q] * t.m[q], up_sec[q] * t.lo[e]))
        rows.add(cols, vals, 0.0, inf)
        cols = np.concatenate(([blk[TD][q]], ucol[c], ucol[q]))
        vals = np.concatenate(([1.0], -down_sec[q] * t.hi[e], down_sec[q] * t.m[q]))
        rows.add(cols, vals, 0.0, inf)
    for pr in pairrows.pair_rows(data, t) if pairs else []:
        cols = np.concatenate(
            ([blk[TU][pr.producer], blk[TD][pr.producer]], ucol[pr.producer], ucol[pr.consumer])
        )
        rows.add(cols, np.concatenate(([1.0, 1.0], -pr.a, -pr.b)), 0.0, inf)
    for j in range(p):
        rows.add(np.array([blk[TU][j], blk[ZU][j]]), np.array([1.0, -tu_max[j]]), -inf, 0.0)
        rows.add(np.array([blk[TD][j], blk[ZD][j]]), np.array([1.0, -td_max[j]]), -inf, 0.0)
        for clock, prev_same, prev_other, coef in (
            (DC, DC, WC, dev_coef[j]),
            (SC, SC, UC, srv_coef[j]),
        ):
            for prev in (prev_same, prev_other):
                if j == 0:
                    rows.add(
                        np.concatenate(([blk[clock][j]], ucol[j])), np.concatenate(([1.0], -coef)), 0.0, inf
                    )
                    break
                cols = np.concatenate(([blk[clock][j], blk[prev][j - 1]], ucol[j]))
                rows.add(cols, np.concatenate(([1.0, -1.0], -coef)), 0.0, inf)
        for link, air, z, after in ((UC, TU, ZU, DC), (WC, TD, ZD, SC)):
            if j == 0:
                rows.add(np.array([blk[link][j], blk[air][j]]), np.array([1.0, -1.0]), 0.0, inf)
            else:
                cols = np.array([blk[link][j], blk[link][j - 1], blk[air][j]])
                rows.add(cols, np.array([1.0, -1.0, -1.0]), 0.0, inf)
            cols = np.array([blk[link][j], blk[after][j], blk[air][j], blk[z][j]])
            rows.add(cols, np.array([1.0, -1.0, -1.0, -big[j]]), -big[j], inf)
    # Valid cuts: every server task and upload feeds work whose result comes back down before
    # ``end``, so the latency is at least the server and uplink clocks after the last position.
    for clock in (SC, UC):
        rows.add(np.array([blk[DC][p - 1], blk[clock][p - 1]]), np.array([1.0, -1.0]), 0.0, inf)
    _path_rows(rows, data, t, cuts, ucol, blk[DC][p - 1], lay)
    a, lo, hi = rows.matrix(lay.n)

    c = np.zeros(lay.n)
    end_clock = blk[DC][p - 1]
    col_lower = np.zeros(lay.n)
    col_upper = np.full(lay.n, inf)
    col_upper[: p * g1] = t.allowed.ravel().astype(float)
    col_upper[blk[ZU]] = 1.0
    col_upper[blk[ZD]] = 1.0
    col_upper[blk[TU]] = tu_max
    col_upper[blk[TD]] = td_max
    for k in (DC, SC, UC, WC):
        col_upper[blk[k]] = cap
    col_upper[lay.block(8) : lay.w] = 1.0
    if data.objective == "latency":
        c[end_clock] = 1.0
    else:
        pw = data.power
        assert data.latency_bound is not None
        c[end_clock] = pw.idle
        c[ucol.ravel()] = (pw.compute - pw.idle) * dev_coef.ravel()
        c[blk[TU]] = pw.transmit
        c[blk[TD]] = pw.receive
        col_upper[end_clock] = data.latency_bound
    integer = np.zeros(lay.n, dtype=bool)
    integer[: p * g1] = True
    integer[blk[ZU]] = True
    integer[blk[ZD]] = True
    names = [f"u_{data.names[j]}_{g}" for j in range(p) for g in range(g1)]
    for label in ("zu", "zd", "tu", "td", "D", "S", "U", "W"):
        names += [f"{label}_{n}" for n in data.names]
    for k, cut in enumerate(cuts):
        for e in cut.edges.tolist():
            tail, head = data.names[data.edge_src[e]], data.names[data.edge_dst[e]]
            names += [f"vu{k}_{tail}_{head}", f"vd{k}_{tail}_{head}"]
    names += [f"w{b.cut}_{b.theta}_{data.names[b.producer]}_{data.names[b.consumer]}" for b in boundary]
    model = LinearModel(c, a, lo, hi, col_lower, col_upper, integer, 0.0, _safe(names), None)
    return model, lay


def _boundaries(data: IntraDPData, t: GridTables, cuts: list[pathcut.PathCut]) -> tuple[Boundary, ...]:
    """The boundary-airtime columns: per path, θ and path edge whose table is not all zero."""
    out = []
    for k, cut in enumerate(cuts):
        for i, theta in enumerate(pathcut.THETAS):
            cost = pathcut.boundary_costs(data, t, cut.edges, theta)
            for e, table in zip(cut.edges.tolist(), cost):
                if table.max() > 0:
                    out.append(Boundary(k, i, int(data.edge_src[e]), int(data.edge_dst[e]), table))
    return tuple(out)


def _boundary_rows(
    rows: _Rows, t: GridTables, lay: Layout, ucol: np.ndarray, on_dev: np.ndarray, on_srv: np.ndarray
) -> None:
    """w ≥ Σ a u[q] + Σ b u[c] for every boundary column (``pairrows.reference_rows``)."""
    if not lay.boundary:
        return
    q = np.array([b.producer for b in lay.boundary])
    c = np.array([b.consumer for b in lay.boundary])
    cost = np.stack([b.cost for b in lay.boundary])
    refs_q = (on_dev[q] | on_srv[q]) & t.allowed[q]
    refs_c = (on_dev[c] | on_srv[c]) & t.allowed[c]
    es, a, b = pairrows.reference_rows(cost, t.allowed[q], t.allowed[c], refs_q, refs_c)
    for i, e in enumerate(es.tolist()):
        cols = np.concatenate(([lay.w + e], ucol[q[e]], ucol[c[e]]))
        rows.add(cols, np.concatenate(([1.0], -a[i], -b[i])), 0.0, np.inf)


def _path_rows(
    rows: _Rows,
    data: IntraDPData,
    t: GridTables,
    cuts: list[pathcut.PathCut],
    ucol: np.ndarray,
    end_clock: int,
    lay: Layout,
) -> None:
    """Per path: v ≥ [producer whole on one side] + [consumer whole on the other] − 1 for
    each of its edges and direction, and T ≥ Σ whole compute + Σ airtime·v + Σ boundary w
    (``pathcut``)."""
    on_dev, on_srv = pathcut.whole_masks(data, t)
    up_air, down_air = whole_transfers(data, t)
    _boundary_rows(rows, t, lay, ucol, on_dev, on_srv)
    w_of: dict[tuple[int, int], list[int]] = {(b.cut, b.theta): [] for b in lay.boundary}
    for i, b in enumerate(lay.boundary):
        w_of[(b.cut, b.theta)].append(lay.w + i)
    v = lay.block(8)
    for k, cut in enumerate(cuts):
        js = cut.positions
        whole = data.t_dev[js, None] * on_dev[js] + data.t_srv[js, None] * on_srv[js]
        frac = t.m[js] / data.rows[js, None]
        split = ~(on_dev[js] | on_srv[js])
        cross: list[tuple[int, int]] = []
        for e in cut.edges.tolist():
            q, c = int(data.edge_src[e]), int(data.edge_dst[e])
            for from_q, to_c, air in ((on_dev[q], on_srv[c], up_air[e]), (on_srv[q], on_dev[c], down_air[e])):
                both = np.concatenate(([v], ucol[q][from_q], ucol[c][to_c]))
                rows.add(both, np.r_[1.0, -np.ones(both.size - 1)], -1.0, np.inf)
                cross.append((v, air))
                v += 1
        vcols = np.array([c for c, _ in cross], dtype=np.int64)
        vair = np.array([a for _, a in cross])
        for i, theta in enumerate(pathcut.THETAS):
            coef = whole + split * (
                theta * frac * data.t_dev[js, None] + (1 - theta) * (1 - frac) * data.t_srv[js, None]
            )
            wcols = np.array(w_of.get((k, i), []), dtype=np.int64)
            cols = np.concatenate(([end_clock], ucol[js].ravel(), vcols, wcols))
            vals = np.concatenate(([1.0], -coef.ravel(), -vair, -np.ones(wcols.size)))
            rows.add(cols, vals, 0.0, np.inf)


def _safe(names: list[str]) -> list[str]:
    """Column names an LP file accepts: letters, digits, '_' and '.' only."""
    return [re.sub(r"[^A-Za-z0-9_.]", "_", n) for n in names]


def with_objective_floor(model: LinearModel, floor: float) -> LinearModel:
    """The model with one more row, objective ≥ ``floor``: a lower bound proven elsewhere (the
    label-setting method), so that the solver's dual bound starts there."""
    row = sp.csr_matrix(model.c[None, :])
    return replace(
        model,
        A=sp.vstack([model.A, row], format="csr"),
        row_lower=np.r_[model.row_lower, floor - model.offset],
        row_upper=np.r_[model.row_upper, np.inf],
        row_names=None if model.row_names is None else [*model.row_names, "objective_floor"],
    )


def read_plan(values: np.ndarray, lay: Layout) -> np.ndarray:
    """Grid index per position from a solution's one-hot u."""
    u = values[: lay.p * lay.g1].reshape(lay.p, lay.g1)
    return np.argmax(u, axis=1).astype(np.int64)


def start_vector(t: GridTables, lay: Layout, m: np.ndarray, d: Durations) -> np.ndarray | None:
    """A feasible point of the MILP from a plan's device rows m and its durations (a MIP
    start); None when some row count is not on this grid."""
    p, g1 = lay.p, lay.g1
    x = np.zeros(lay.n)
    canon = []
    for j in range(p):
        hits = np.flatnonzero(t.allowed[j] & (t.m[j] == m[j]))
        if not hits.size:
            return None
        canon.append(hits[0])
    x[np.arange(p) * g1 + np.array(canon)] = 1.0
    dev, srv, up, down = (arr[0] for arr in clocks(d))
    for k, vec in ((ZU, d.up[0] > 0), (ZD, d.down[0] > 0), (TU, d.up[0]), (TD, d.down[0])):
        x[lay.block(k) + np.arange(p)] = vec
    for k, vec in ((DC, dev), (SC, srv), (UC, up), (WC, down)):
        x[lay.block(k) + np.arange(p)] = vec
    on_dev, on_srv = m == t.m[:, -1], m == 0
    for i, (q, c, up) in enumerate(lay.crossings):
        x[lay.block(8) + i] = float(on_dev[q] and on_srv[c]) if up else float(on_srv[q] and on_dev[c])
    for i, b in enumerate(lay.boundary):
        x[lay.w + i] = b.cost[canon[b.producer], canon[b.consumer]]
    return x
