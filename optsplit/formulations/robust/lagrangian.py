"""Lagrangian decomposition of the bandwidth budget: a proven lower bound and a plan at any N.

Σ_n b_n ≤ B is the only constraint that links devices. For a price λ ≥ 0 on bandwidth,

    g(λ) = Σ_n min_{m, f, b} (E_n(m, f, b) + λ·b_n) − λ·B

splits into one small problem per device, and by weak duality every g(λ) is a lower bound
on the optimum, partition choices included (no convexity is needed for that). g is concave
in λ and Σ_n b_n(λ) − B is a supergradient, so a bisection on log λ brackets the best
price. The plan fixes each device's partition at the bracket's ends and allocates clocks and
bandwidths exactly for them (`kkt.allocate`), so it always meets Σ b ≤ B.

The bound is certified: for a fixed partition point the per-device cost
φ(b) = min_f E + λ·b is convex in b (see `kkt`), so after golden section the secant lines
through the last four points lie below φ outside their own segments; their lower envelope
bounds φ's minimum from below, while the golden-section point bounds it from above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optsplit.formulations.robust.data import RobustData
from optsplit.formulations.robust.kkt import (
    BISECTION_STEPS,
    GOLDEN_STEPS,
    INVPHI,
    LOG_PRICE_RANGE,
    PRICE_STEPS,
    SCREEN_GOLDEN_STEPS,
    Allocation,
    _Batch,
    allocate,
)

# floating-point rounding in one evaluation of the cost, relative (a few ulps per operation)
ROUNDING = 1e-12


@dataclass
class Priced:
    """Per (partition point, device) at one price: the bandwidth found, the cost there (an
    upper bound on the point's minimum) and a certified lower bound on that minimum."""

    b: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


@dataclass
class DeviceChoice:
    """Per device at one price: the best point, its bandwidth, and g(λ)'s two sides."""

    price: float
    parts: np.ndarray
    levels: np.ndarray  # table entry per device (−1: clock range)
    b: np.ndarray
    upper: float  # Σ_n min_m upper − λB
    lower: float  # Σ_n min_m lower − λB: a proven lower bound on the optimum

    @property
    def bandwidth(self) -> float:
        return float(self.b.sum())


@dataclass
class LagrangianRun:
    """The dual search's outcome: best bound, the exact allocation of the best plan found."""

    bound: float
    price: float
    parts: np.ndarray | None
    allocation: Allocation | None  # exact for the partitions (and table entries) chosen
    price_steps: int
    candidates: int
    proven_infeasible: bool = False


Line = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # two points (p, q, f(p), f(q))


def _slope(line: Line) -> np.ndarray:
    p, q, vp, vq = line
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q > p, (vq - vp) / (q - p), 0.0)


def _at(line: Line, t: np.ndarray) -> np.ndarray:
    """Value at t of the line through the two points."""
    return line[2] + _slope(line) * (t - line[0])


def certified_golden(
    cost: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, floor: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Golden section of a convex ``cost`` on [lo, hi]: (point, cost there, lower bound on
    min cost over [floor, hi]).

    With p0 < p1 < p2 < p3 the final bracket and its two interior points, a line through two
    of them lies below a convex function outside the segment between them; on each of the
    five pieces [floor, p0], [p0, p1], [p1, p2], [p2, p3], [p3, hi] the lower envelope of such
    lines is minimised at an end or where two lines cross.
    """
    a, c = lo.copy(), hi.copy()
    x1, x2 = c - INVPHI * (c - a), a + INVPHI * (c - a)
    f1, f2 = cost(x1), cost(x2)
    for _ in range(steps):
        left = f1 <= f2
        c = np.where(left, x2, c)
        a = np.where(left, a, x1)
        new_x1 = np.where(left, c - INVPHI * (c - a), x2)
        new_x2 = np.where(left, x1, a + INVPHI * (c - a))
        fresh = cost(np.where(left, new_x1, new_x2))
        f1, f2 = np.where(left, fresh, f2), np.where(left, f1, fresh)
        x1, x2 = new_x1, new_x2
    fa, fc, f_lo, f_hi = cost(a), cost(c), cost(lo), cost(hi)
    points = np.stack([a, x1, x2, c])
    values = np.stack([fa, f1, f2, fc])
    best = np.argmin(np.concatenate([values, f_lo[None], f_hi[None]]), axis=0)
    where = np.concatenate([points, lo[None], hi[None]])
    b = np.take_along_axis(where, best[None], axis=0)[0]
    upper = np.take_along_axis(np.concatenate([values, f_lo[None], f_hi[None]]), best[None], axis=0)[0]

    p0, p1, p2, p3 = points
    v0, v1, v2, v3 = values
    line01: Line = (p0, p1, v0, v1)
    line12: Line = (p1, p2, v1, v2)
    line23: Line = (p2, p3, v2, v3)
    at = _at

    def crossing_floor(left_line: Line, right_line: Line, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        """min over [s, e] of max(left_line, right_line): at an end or at their crossing."""
        ends = np.minimum(
            np.maximum(at(left_line, s), at(right_line, s)), np.maximum(at(left_line, e), at(right_line, e))
        )
        ls = _slope(left_line)
        rs = _slope(right_line)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (at(right_line, s) - at(left_line, s)) / (ls - rs) + s
        inside = (rs > ls) & (t > s) & (t < e)
        return np.where(inside, np.minimum(ends, at(left_line, np.where(inside, t, s))), ends)

    pieces = [
        np.minimum(v0, at(line01, floor)),  # [floor, p0]: the line through p0, p1 extended left
        np.minimum(v1, at(line12, p0)),  # [p0, p1]: the line through p1, p2
        crossing_floor(line01, line23, p1, p2),  # [p1, p2]: lines from either side
        np.minimum(v2, at(line12, p3)),  # [p2, p3]: the line through p1, p2
        np.minimum(v3, at(line23, hi)),  # [p3, hi]: the line through p2, p3 extended right
    ]
    lower = np.min(np.stack(pieces), axis=0)
    lower = np.where(np.isnan(lower), -np.inf, np.minimum(lower, upper))
    lower = lower - ROUNDING * np.abs(lower)
    return b, upper, np.where(np.isfinite(upper), lower, np.inf)


@dataclass
class _Piece:
    """Points whose cost is convex in b: one batch (clocks free in a range, or every table
    device held at one entry), its least bandwidths, and the devices it speaks for."""

    batch: _Batch
    level: int  # the table entry held (−1: clock ranges)
    feasible: np.ndarray
    lo: np.ndarray
    floor: np.ndarray

    @classmethod
    def of(cls, batch: _Batch, level: int, devices: np.ndarray, bandwidth: float) -> _Piece:
        need = batch.min_bandwidth()
        feasible = np.isfinite(need) & devices
        lo = np.where(feasible, np.minimum(need, bandwidth), 0.0)
        # the bisection behind `need` leaves it at most B·2^-steps above the true least bandwidth
        floor = np.maximum(lo - bandwidth * 2.0**-BISECTION_STEPS, 0.0)
        return cls(batch, level, feasible, lo, floor)

    def price(self, price: float, steps: int) -> Priced:
        """Minimise E + price·b over (f, b) for every point; certified lower bounds alongside."""
        lam = np.full((1, 1), price)

        def cost(b: np.ndarray) -> np.ndarray:
            return self.batch.cost(b, lam)

        hi = np.full_like(self.lo, self.batch.B)
        sends = self.batch.sends
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            b, upper, lower = certified_golden(cost, self.lo, hi, self.floor, steps)
            fixed = cost(np.zeros_like(self.lo))  # points that send nothing: the cost is exact
            lower = np.where(sends, lower, fixed - ROUNDING * np.abs(fixed))
        b = np.where(sends, b, 0.0)
        upper = np.where(sends, upper, fixed)
        out = ~self.feasible
        return Priced(b, np.where(out, np.inf, upper), np.where(out, np.inf, lower))


class PointTable:
    """Every (partition point, device) pair of an instance, priced at any λ.

    A device with a DVFS table has a cost that is a minimum over entries, not convex in b; it
    is priced entry by entry (each convex), and the entries' minimum taken, so the bound stays
    certified.
    """

    def __init__(self, data: RobustData):
        sizes = np.array([d.num_points for d in data.devices])
        width = int(sizes.max())
        self.parts = np.minimum(np.arange(width)[:, None], sizes[None, :] - 1)  # (P, N)
        batch = _Batch(data, self.parts)
        self.B = data.bandwidth
        table = np.broadcast_to(batch.discrete, self.parts.shape)
        self.tables = bool(table.any())
        self.pieces = [_Piece.of(batch, -1, ~table, self.B)]
        if batch.levels is not None:
            self.pieces += [
                _Piece.of(batch.at_level(j), j, table, self.B) for j in range(batch.levels.shape[0])
            ]
        self.feasible = np.logical_or.reduce([piece.feasible for piece in self.pieces])
        self.lo = np.min([np.where(piece.feasible, piece.lo, np.inf) for piece in self.pieces], axis=0)

    def price(self, price: float, steps: int = GOLDEN_STEPS) -> tuple[Priced, np.ndarray]:
        """Every point at this price (the cheapest entry for table devices), and that entry."""
        best: Priced | None = None
        level = np.full(self.parts.shape, -1)
        for piece in self.pieces:
            priced = piece.price(price, steps)
            if best is None:
                best = priced
                continue
            better = priced.upper < best.upper
            best = Priced(
                np.where(better, priced.b, best.b),
                np.where(better, priced.upper, best.upper),
                np.minimum(priced.lower, best.lower),
            )
            level = np.where(better, piece.level, level)
        assert best is not None
        return best, level

    def choose(self, price: float, steps: int = GOLDEN_STEPS) -> DeviceChoice:
        """Each device's cheapest point at this price, and g(λ) from above and below."""
        priced, level = self.price(price, steps)
        best = np.argmin(priced.upper, axis=0)
        cols = np.arange(best.size)
        return DeviceChoice(
            price,
            self.parts[best, cols],
            level[best, cols],
            priced.b[best, cols],
            float(priced.upper[best, cols].sum() - price * self.B),
            float(priced.lower.min(axis=0).sum() - price * self.B),
        )


def _search(data: RobustData, table: PointTable, price_steps: int) -> tuple[list[DeviceChoice], int]:
    """The device choices at price 0, or at both ends of the bisection's final bracket
    (Σ b > B at the lower end, ≤ B at the upper), and the number of bisection steps taken."""
    free = table.choose(0.0)
    if free.bandwidth <= data.bandwidth:
        return [free], 0
    log_lo, log_hi = LOG_PRICE_RANGE
    for _ in range(price_steps):  # keep Σ b(10^log_lo) > B ≥ Σ b(10^log_hi)
        mid = 0.5 * (log_lo + log_hi)
        over = table.choose(10.0**mid, SCREEN_GOLDEN_STEPS).bandwidth > data.bandwidth
        log_lo, log_hi = (mid, log_hi) if over else (log_lo, mid)
    return [table.choose(10.0**log_lo), table.choose(10.0**log_hi)], price_steps


def _proven_infeasible(data: RobustData, table: PointTable) -> bool:
    """Some device meets its deadline at no point, or the least bandwidths alone exceed B."""
    least = table.lo.min(axis=0)
    return bool(not np.isfinite(least).all() or least.sum() > data.bandwidth)


def dual_bound(data: RobustData, price_steps: int = PRICE_STEPS) -> float:
    """The best proven lower bound g(λ) of the bisection (inf when infeasibility is proved)."""
    table = PointTable(data)
    if _proven_infeasible(data, table):
        return np.inf
    choices, _ = _search(data, table, price_steps)
    return max(c.lower for c in choices)


def solve(data: RobustData, price_steps: int = PRICE_STEPS) -> LagrangianRun:
    """Maximise g(λ) by bisection on log λ; allocate the bracketing partitions exactly."""
    table = PointTable(data)
    if _proven_infeasible(data, table):
        return LagrangianRun(np.inf, np.nan, None, None, 0, 0, proven_infeasible=True)
    choices, steps = _search(data, table, price_steps)
    bound = max(c.lower for c in choices)
    pairs = np.unique(np.stack([np.stack([c.parts, c.levels]) for c in choices]), axis=0)
    candidates, levels = pairs[:, 0], pairs[:, 1]
    hint = max(c.price for c in choices)
    alloc = allocate(
        data, candidates, price_hint=hint if hint > 0 else None, levels=levels if table.tables else None
    )
    if not alloc.feasible.any():
        return LagrangianRun(bound, hint, None, None, steps, len(candidates))
    best = int(np.argmin(alloc.energy))
    one = Allocation(
        alloc.energy[best : best + 1],
        alloc.feasible[best : best + 1],
        alloc.f[best : best + 1],
        alloc.b[best : best + 1],
        alloc.price[best : best + 1],
    )
    return LagrangianRun(bound, hint, candidates[best], one, steps, len(candidates))
