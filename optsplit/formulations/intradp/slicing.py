"""Which rows cross the link: each side holds a contiguous tile of every tensor.

The device computes rows [0, m) of a position's output (m = ⌊xL + ½⌋), the server [m, L).
For a data edge p → c, the server's rows of c read rows [lo, ·) of p and the device's rows
of c read rows [·, hi) of p (exact receptive fields, ``Window.input_rows``); a consumer that
needs its input whole (a barrier, the result's consumer) reads all of it on the side that
computes it. Each side keeps its tile of p contiguous, so the server receives rows
[min_c lo_c, m_p) and the device rows [m_p, max_c hi_c) — the halo included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsplit.formulations.intradp.data import IntraDPData
from optsplit.profiles.halo import Window, device_rows


def edge_needs(
    window: Window | None, m_c: np.ndarray, rows_c: int | np.ndarray, rows_p: int | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi): the server's part of the consumer reads rows ≥ lo of the producer, the
    device's part rows < hi (lo = rows_p, hi = 0 where that part is empty). Vectorised; the
    row counts broadcast against m_c (one column per edge read through the same window)."""
    m_c = np.asarray(m_c, dtype=np.int64)
    rows_c, rows_p = np.asarray(rows_c), np.asarray(rows_p)
    if window is None:  # whole input on whichever side computes the consumer
        lo = np.where(m_c >= rows_c, rows_p, 0)
        hi = np.where(m_c > 0, rows_p, 0)
        return lo, hi
    lo, _ = window.input_rows(m_c, rows_c, rows_p)
    _, hi = window.input_rows(0, m_c, rows_p)
    return np.where(m_c >= rows_c, rows_p, lo), np.where(m_c > 0, hi, 0)


def all_edge_needs(data: IntraDPData, m_dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``edge_needs`` of every data edge at once, (lo, hi) of shape (K, E), from the consumers'
    device rows per edge m_dst (K, E): one vectorised call per distinct window."""
    src, dst = data.edge_src, data.edge_dst
    lo = np.empty(m_dst.shape, dtype=np.int64)
    hi = np.empty_like(lo)
    for window, es in data.window_groups:
        lo[:, es], hi[:, es] = edge_needs(window, m_dst[:, es], data.rows[dst[es]], data.rows[src[es]])
    return lo, hi


def held_rows(data: IntraDPData, shares: np.ndarray) -> np.ndarray:
    """Device rows m of every position for share vectors (…, P); fixed positions hold all."""
    m = device_rows(np.asarray(shares, dtype=float), data.rows)  # type: ignore[arg-type]
    return np.where(data.fixed, data.rows, m)


@dataclass(frozen=True)
class Exchange:
    """Rows each position's tensor sends up (device → server) and down, per plan."""

    up_rows: np.ndarray
    down_rows: np.ndarray


def exchanges(data: IntraDPData, m: np.ndarray) -> Exchange:
    """Rows crossing the link at every position, for device-row vectors m (K, P)."""
    m = np.atleast_2d(m)
    src, dst = data.edge_src, data.edge_dst
    lo, hi = all_edge_needs(data, m[:, dst])
    held = m[:, src]
    up_e = np.maximum(held - lo, 0)
    down_e = np.maximum(hi - held, 0)
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    up = np.zeros(m.shape, dtype=np.int64)
    down = np.zeros(m.shape, dtype=np.int64)
    up[:, src[starts]] = np.maximum.reduceat(up_e, starts, axis=1)
    down[:, src[starts]] = np.maximum.reduceat(down_e, starts, axis=1)
    return Exchange(up, down)


@dataclass(frozen=True, eq=False)
class GridTables:
    """Per position and grid index g (share g/G): device rows; per edge and consumer index:
    the rows the server's part reads from (lo) and the device's part up to (hi)."""

    grid: int
    m: np.ndarray  # (P, G + 1)
    lo: np.ndarray  # (E, G + 1)
    hi: np.ndarray  # (E, G + 1)
    allowed: np.ndarray  # (P, G + 1) bool: share allowed and first of its row count


def grid_tables(data: IntraDPData, grid: int) -> GridTables:
    """Tables for shares on {0, 1/G, …, 1}: barriers take 0 or 1, fixed positions 1, and of
    shares giving the same rows only the smallest is kept (they are the same plan)."""
    g = np.arange(grid + 1)
    m = np.floor(g[None, :] / grid * data.rows[:, None] + 0.5).astype(np.int64)
    m[data.fixed] = data.rows[data.fixed, None]
    first = np.ones(m.shape, dtype=bool)  # m rises with g: the first g of each row count
    first[:, 1:] = m[:, 1:] != m[:, :-1]
    ends = (g == 0) | (g == grid)
    allowed = np.where(data.local[:, None], first, ends[None, :])
    allowed[data.fixed] = g == grid
    lo, hi = all_edge_needs(data, m[data.edge_dst].T)
    return GridTables(grid, m, lo.T.copy(), hi.T.copy(), allowed)


def grid_exchanges(data: IntraDPData, tables: GridTables, gidx: np.ndarray) -> tuple[np.ndarray, Exchange]:
    """Device rows and exchanged rows of plans given as grid indices (K, P), from the tables."""
    gidx = np.atleast_2d(gidx)
    m = tables.m[np.arange(gidx.shape[1])[None, :], gidx]
    src, dst = data.edge_src, data.edge_dst
    e = np.arange(src.size)
    lo = tables.lo[e, gidx[:, dst]]
    hi = tables.hi[e, gidx[:, dst]]
    held = m[:, src]
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    up = np.zeros(m.shape, dtype=np.int64)
    down = np.zeros(m.shape, dtype=np.int64)
    up[:, src[starts]] = np.maximum.reduceat(np.maximum(held - lo, 0), starts, axis=1)
    down[:, src[starts]] = np.maximum.reduceat(np.maximum(hi - held, 0), starts, axis=1)
    return m, Exchange(up, down)
