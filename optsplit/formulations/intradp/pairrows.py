"""Pair inequalities for the MILP: the airtime of one data edge as a function of both ends.

For an edge q → c, let F(g, h) be the airtime (up plus down, s) of the rows that cross when q
takes grid index g and c index h: up_sec·max(0, m_g − lo_h) + down_sec·max(0, hi_h − m_g).
The producer's tu_q and td_q are at least the edge's up and down airtime, so for any weights
with a_g − β_h ≤ F(g, h) on every allowed pair,

    tu_q + td_q ≥ Σ_g a_g u[q, g] − Σ_h β_h u[c, h]

holds at every grid plan (u one-hot). We take a_g = min over c's whole indices of F(g, h) (the
traffic q's split forces when c is whole) and the tightest β_h = max_g (a_g − F(g, h)); and the
mirror row with the roles of q and c swapped. The existing airtime rows see only the expected
rows of each end; these see the pair, so a split producer (say 1/G and (G − 1)/G) feeding a
consumer mixed between whole-on-device and whole-on-server — the LP's cheapest point on
ResNet-152 — pays at least min(m, L − m) rows, as every grid plan does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsplit.formulations.intradp.data import IntraDPData
from optsplit.formulations.intradp.slicing import GridTables


@dataclass(frozen=True)
class PairRow:
    """tu_q + td_q ≥ Σ_g a[g] u[q, g] + Σ_h b[h] u[c, h] for one edge (b = −β)."""

    producer: int
    consumer: int
    a: np.ndarray  # (G + 1,) on the producer's indices
    b: np.ndarray  # (G + 1,) on the consumer's indices


def pair_costs(data: IntraDPData, t: GridTables) -> np.ndarray:
    """F (E, G + 1, G + 1): airtime of each edge per (producer index, consumer index)."""
    src = data.edge_src
    m = t.m[src][:, :, None]
    up = np.maximum(0, m - t.lo[:, None, :]) * (data.row_bytes[src] / data.up_rate)[:, None, None]
    down = np.maximum(0, t.hi[:, None, :] - m) * (data.row_bytes[src] / data.down_rate)[:, None, None]
    return up + down


def _side(
    f: np.ndarray, ok_g: np.ndarray, ok_h: np.ndarray, whole_h: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weights (a on g, −β on h) of one row from F (E, g, h): a_g = min over whole allowed h,
    β_h = max over allowed g of a_g − F(g, h); zero on indices that are not allowed."""
    inf = np.inf
    a = np.where(whole_h[:, None, :] & ok_h[:, None, :], f, inf).min(axis=2)
    a = np.where(ok_g & np.isfinite(a), a, 0.0)
    beta = np.where(ok_g[:, :, None], a[:, :, None] - f, -inf).max(axis=1)
    beta = np.where(ok_h, beta, 0.0)
    return a, -beta


def pair_rows(data: IntraDPData, t: GridTables) -> list[PairRow]:
    """Both rows of every edge with a splittable end, dropped where they force nothing."""
    src, dst = data.edge_src, data.edge_dst
    whole = (t.m == 0) | (t.m == data.rows[:, None])
    f = pair_costs(data, t)
    a_q, b_c = _side(f, t.allowed[src], t.allowed[dst], whole[dst])
    a_c, b_q = _side(f.transpose(0, 2, 1), t.allowed[dst], t.allowed[src], whole[src])
    splittable = data.local & ~data.fixed
    out: list[PairRow] = []
    for e in np.flatnonzero(splittable[src] | splittable[dst]).tolist():
        q, c = int(src[e]), int(dst[e])
        for on_q, on_c in ((a_q[e], b_c[e]), (b_q[e], a_c[e])):
            if max(on_q.max(), on_c.max()) > 0:
                out.append(PairRow(q, c, on_q, on_c))
    return out


def reference_rows(
    cost: np.ndarray, ok_g: np.ndarray, ok_h: np.ndarray, refs_g: np.ndarray, refs_h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows w_e ≥ Σ_g a_g u[q, g] + Σ_h b_h u[c, h] valid for a cost table (E, g, h): per
    reference producer index g* (``refs_g`` (E, g) masks) b_h = C(g*, h), a_g = min_h (C(g, h)
    − C(g*, h)); per reference consumer index h* symmetrically. Exact on the reference row or
    column; returns (edge, a, b) stacked over all rows."""
    inf = np.inf
    ok = ok_g[:, :, None] & ok_h[:, None, :]
    c = np.where(ok, cost, 0.0)
    es: list[int] = []
    ab: list[tuple[np.ndarray, np.ndarray]] = []
    for e, g in zip(*np.nonzero(refs_g & ok_g)):
        b = c[e, g]
        es.append(int(e))
        ab.append(((c[e] - b[None, :]).min(axis=1, where=ok[e], initial=inf), b))
    for e, h in zip(*np.nonzero(refs_h & ok_h)):
        a = c[e, :, h]
        es.append(int(e))
        ab.append((a, (c[e] - a[:, None]).min(axis=0, where=ok[e], initial=inf)))
    if not es:
        g1 = cost.shape[1]
        return np.zeros(0, dtype=np.int64), np.zeros((0, g1)), np.zeros((0, g1))
    a_all = np.where(ok_g[es], np.array([a for a, _ in ab]), 0.0)
    b_all = np.where(ok_h[es], np.array([b for _, b in ab]), 0.0)
    return np.array(es, dtype=np.int64), a_all, b_all
