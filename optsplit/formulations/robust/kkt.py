"""Exact resource allocation for many partition vectors at once (the enumeration reference).

With partitions fixed, the problem in (f, b) is convex and couples devices only through
Σ b ≤ B. With a price λ on bandwidth each device solves min E(f, b) + λ·b alone: the best
clock for a bandwidth is the larger of the one its deadline needs (closed form) and the
one minimising energy, and the best bandwidth follows by golden section (the function is
convex in b). λ is found by bisection so that Σ b ≤ B. Everything is vectorised over
(partition vector, device) pairs, independent of the CVXPY model used by `pccp`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from optsplit.formulations.robust.data import RobustData
from optsplit.formulations.robust.physics import (
    gpu_energy_clock,
    inverse_clock_needed,
    local_energy,
    rate,
    tx_time,
)

GOLDEN_STEPS = 40
PRICE_STEPS = 45
HINTED_PRICE_STEPS = 28  # a 4-decade bracket around a hint, to 1.5e-8 of a decade
# coarse screening of many candidates: b to 1e-5 of its range, the price to 6e-5 of a decade
SCREEN_GOLDEN_STEPS = 24
SCREEN_PRICE_STEPS = 16
BISECTION_STEPS = 70
INVPHI = (np.sqrt(5.0) - 1.0) / 2.0


# Bracket of log10 of the bandwidth price (J/Hz) searched without a hint: wide enough for
# bandwidths from 1e3 to 1e18 Hz (at B = 1e15 Hz the price is near 1e-24 J/Hz).
LOG_PRICE_RANGE = (-60.0, 10.0)


@dataclass
class Allocation:
    """Per partition vector c: total energy, feasibility, clocks f[c, n], bandwidths b[c, n]
    and the bandwidth price[c] (J/Hz, 0 where the budget is not binding)."""

    energy: np.ndarray
    feasible: np.ndarray
    f: np.ndarray
    b: np.ndarray
    price: np.ndarray


class _Batch:
    """Gathered arrays of shape (C, N) for the partition vectors being allocated.

    A device with a DVFS table runs at the entry of ``levels`` (C × N indices, −1 for none)
    when given; otherwise its clock is chosen from the table: for a bandwidth, the cheapest
    entry meeting the deadline (``clock``), and for a price, the best entry and bandwidth
    together (``best_bandwidth``, one convex search per entry).
    """

    def __init__(self, data: RobustData, parts: np.ndarray, levels: np.ndarray | None = None):
        devs = data.devices
        width = max(d.num_points for d in devs)
        rows = np.arange(len(devs))[None, :]

        def grid(attr: str) -> np.ndarray:
            out = np.full((len(devs), width), np.nan)
            for i, d in enumerate(devs):
                out[i, : d.num_points] = getattr(d, attr)
            return out

        def table(attr: str) -> np.ndarray:
            return grid(attr)[rows, parts]

        def const(attr: str) -> np.ndarray:
            return np.array([getattr(d, attr) for d in devs], dtype=float)[None, :]

        self.a, self.s, self.mu_e = table("a"), table("s"), table("mu_e")
        self.var_e, self.bits = table("var_e"), table("bits")
        self.c, self.q = table("c"), table("q")
        self.f_min, self.f_max = const("f_min"), const("f_max")
        self.kappa, self.static_power = const("kappa"), const("static_power")
        self.tx_power, self.snr_per_hz = const("tx_power"), const("snr_per_hz")
        self.deadline, self.margin = const("deadline"), const("margin")
        self.max_se = const("max_se")
        self.B = data.bandwidth
        gpu = [d.power is not None for d in devs]
        self.gpu = np.array(gpu)[None, :]
        self.power: np.ndarray | None = None  # (K, 1, N) gpu coefficients, 0 for cpu devices
        with np.errstate(divide="ignore", invalid="ignore"):
            f_energy = np.where(self.kappa > 0, np.cbrt(self.static_power / (2 * self.kappa)), self.f_max)
        if any(gpu):
            degree = max(d.power.size for d in devs if d.power is not None)
            power = np.zeros((degree, 1, len(devs)))
            for i, d in enumerate(devs):
                if d.power is not None:
                    power[: d.power.size, 0, i] = d.power
            self.power = power
            # per (device, point): the minimiser of the convex P(f)·(a/f + c) on [f_min, f_max]
            f_gpu = gpu_energy_clock(grid("a"), grid("c"), power[:, 0, :, None], self.f_min.T, self.f_max.T)[
                rows, parts
            ]
            f_energy = np.where(self.gpu, f_gpu, f_energy)
        self.f_energy = f_energy
        self.levels: np.ndarray | None = None  # (K, 1, N) table clocks (NaN padded) to choose from
        self.discrete = np.zeros((1, len(devs)), dtype=bool)
        if any(d.clocks is not None for d in devs):
            depth = max(d.clocks.size for d in devs if d.clocks is not None)
            clocks = np.full((len(devs), depth), np.nan)
            for i, d in enumerate(devs):
                if d.clocks is not None:
                    clocks[i, : d.clocks.size] = d.clocks
            has_table = np.isfinite(clocks[:, 0])[None, :]
            if levels is None:
                self.discrete = has_table
            else:
                fixed = has_table & (levels >= 0)
                at = clocks[rows, np.maximum(levels, 0)]
                self.f_min = np.where(fixed, at, self.f_min)
                self.f_max = np.where(fixed, at, self.f_max)
                self.discrete = has_table & (levels < 0)
            if self.discrete.any():
                self.levels = clocks.T[:, None, :]
        self.f_energy = np.clip(self.f_energy, self.f_min, self.f_max)
        self.sends = self.bits > 0
        self._per_level: list[tuple[_Batch, np.ndarray]] | None = None

    def local_energy(self, f: np.ndarray) -> np.ndarray:
        """Computing energy at clocks f (cpu or gpu model per device)."""
        cpu = local_energy(self.a, f, self.kappa, self.static_power)
        if self.power is None:
            return cpu
        return np.where(self.gpu, local_energy(self.a, f, 0.0, 0.0, self.c, self.power), cpu)

    def energy(self, f: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Device energy at clocks f and bandwidths b."""
        return self.local_energy(f) + self.tx_power * tx_time(self.bits, b, self.snr_per_hz, self.max_se)

    def clock(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best clock for bandwidth b, and whether the deadline can be met at all."""
        budget = self.deadline - self.mu_e - self.c - tx_time(self.bits, b, self.snr_per_hz, self.max_se)
        u = inverse_clock_needed(self.a, self.s, self.var_e, self.margin, budget, self.q)
        with np.errstate(divide="ignore"):
            f_needed = np.where(np.isnan(u), np.inf, 1.0 / u)
        ok = f_needed <= self.f_max * (1 + 1e-12)
        f = np.clip(np.maximum(f_needed, self.f_energy), self.f_min, self.f_max)
        if self.levels is None:
            return f, ok
        # a table: the cheapest entry at or above the clock the deadline needs
        levels = np.broadcast_to(
            self.levels, (self.levels.shape[0], *np.broadcast_shapes(f.shape, self.a.shape))
        )
        allowed = np.isfinite(levels) & (levels >= f_needed * (1 - 1e-12))
        with np.errstate(invalid="ignore"):
            cost = np.where(allowed, self.local_energy(np.where(np.isfinite(levels), levels, 1.0)), np.inf)
        pick = np.take_along_axis(levels, np.argmin(cost, axis=0)[None], axis=0)[0]
        f = np.where(self.discrete, np.where(allowed.any(axis=0), pick, self.f_max), f)
        ok = np.where(self.discrete, allowed.any(axis=0), ok)
        return f, ok

    def cost(self, b: np.ndarray, price: np.ndarray) -> np.ndarray:
        f, ok = self.clock(b)
        return np.where(ok, self.energy(f, b) + price * b, np.inf)

    def min_bandwidth(self) -> np.ndarray:
        """Smallest b meeting the deadline at f_max (0 for devices that send nothing; inf if none)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            local_std = np.where(self.s > 0, self.s / self.f_max, 0.0) + self.q
            local = np.where(self.a > 0, self.a / self.f_max + self.c, 0.0) + self.margin * np.sqrt(
                local_std**2 + self.var_e
            )
        window = self.deadline - self.mu_e - local
        with np.errstate(divide="ignore", invalid="ignore"):
            need_rate = np.where(window > 0, self.bits / window, np.inf)
        reachable = rate(np.full_like(need_rate, self.B), self.snr_per_hz, self.max_se) >= need_rate
        lo, hi = np.zeros_like(need_rate), np.full_like(need_rate, self.B)
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            enough = rate(mid, self.snr_per_hz, self.max_se) >= need_rate
            hi, lo = np.where(enough, mid, hi), np.where(enough, lo, mid)
        b_req = np.where(self.sends, np.where(reachable, hi, np.inf), 0.0)
        return np.where(window >= -1e-15 * self.deadline, b_req, np.inf)

    def at_level(self, j: int) -> _Batch:
        """This batch with every table device fixed at its j-th clock (NaN past its table: no
        clock, so no feasible point)."""
        assert self.levels is not None
        fixed = copy.copy(self)
        level = np.where(self.discrete, self.levels[j], np.nan)
        fixed.f_min = np.where(self.discrete, level, self.f_min)
        fixed.f_max = np.where(self.discrete, level, self.f_max)
        fixed.f_energy = np.where(self.discrete, level, self.f_energy)
        fixed.levels, fixed.discrete, fixed._per_level = None, np.zeros_like(self.discrete), None
        return fixed

    def best_bandwidth(self, lo: np.ndarray, price: np.ndarray, steps: int = GOLDEN_STEPS) -> np.ndarray:
        """Minimiser of cost(·, price) on [lo, B] (0 where nothing is sent): golden section where
        the cost is convex in b. For a clock table, at entry j the cost is a constant plus the
        convex g(b) = p·bits/R(b) + price·b on [need_j, B], minimised at max(b_g, need_j) with b_g
        g's minimiser on [lo, B] (lo ≤ every need_j); the best entry wins."""
        if self.levels is None:
            return self._golden(lo, price, steps)
        continuous = ~np.broadcast_to(self.discrete, lo.shape)
        best_b = self._golden(lo, price, steps) if continuous.any() else lo.copy()
        best_cost = np.full(lo.shape, np.inf)
        if self._per_level is None:  # the fixed-clock batches and their least bandwidths
            self._per_level = [
                (fixed, fixed.min_bandwidth()) for fixed in map(self.at_level, range(self.levels.shape[0]))
            ]
        free = self._golden(lo, price, steps, transmit_only=True)
        for fixed, need in self._per_level:
            b = np.where(np.isfinite(need), np.clip(np.maximum(free, need), lo, self.B), lo)
            value = np.where(np.isfinite(need), fixed.cost(b, price), np.inf)
            better = self.discrete & (value < best_cost)
            best_b, best_cost = np.where(better, b, best_b), np.where(better, value, best_cost)
        return np.where(self.sends, best_b, 0.0)

    def _golden(
        self, lo: np.ndarray, price: np.ndarray, steps: int, transmit_only: bool = False
    ) -> np.ndarray:
        """Golden-section minimiser of cost(·, price) on [lo, B] (0 where nothing is sent), or
        with ``transmit_only`` of p·bits/R(b) + price·b, the deadline ignored."""
        cost = self._transmit_cost if transmit_only else self.cost
        a, c = lo.copy(), np.full_like(lo, self.B)
        x1, x2 = c - INVPHI * (c - a), a + INVPHI * (c - a)
        f1, f2 = cost(x1, price), cost(x2, price)
        for _ in range(steps):
            left = f1 <= f2  # the minimum lies in [a, x2]
            c = np.where(left, x2, c)
            a = np.where(left, a, x1)
            new_x1 = np.where(left, c - INVPHI * (c - a), x2)
            new_x2 = np.where(left, x1, a + INVPHI * (c - a))
            fresh = cost(np.where(left, new_x1, new_x2), price)
            f1, f2 = np.where(left, fresh, f2), np.where(left, f1, fresh)
            x1, x2 = new_x1, new_x2
        best = 0.5 * (a + c)
        # the minimiser may sit on the lower end (b_req): compare with it explicitly
        at_lo = cost(lo, price) <= cost(best, price)
        return np.where(self.sends, np.where(at_lo, lo, best), 0.0)

    def _transmit_cost(self, b: np.ndarray, price: np.ndarray) -> np.ndarray:
        """p·bits/R(b) + price·b: the part of the cost that depends on b at a fixed clock."""
        return self.tx_power * tx_time(self.bits, b, self.snr_per_hz, self.max_se) + price * b


def _price_search(
    batch: _Batch, lo: np.ndarray, lower: float, upper: float, steps: int, golden: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bisection on log10 of the price over [lower, upper]: the least price found with Σ b ≤ B
    per row, and whether the search never left an end of the bracket (the price lies beyond)."""
    log_lo = np.full((lo.shape[0], 1), lower)
    log_hi = np.full((lo.shape[0], 1), upper)
    for _ in range(steps):
        mid = 0.5 * (log_lo + log_hi)
        over = batch.best_bandwidth(lo, 10.0**mid, golden).sum(axis=1, keepdims=True) > batch.B
        log_lo, log_hi = np.where(over, mid, log_lo), np.where(over, log_hi, mid)
    return log_hi, ((log_hi == upper) | (log_lo == lower))[:, 0]


def allocate(
    data: RobustData,
    parts: np.ndarray,
    price_hint: float | None = None,
    coarse: bool = False,
    levels: np.ndarray | None = None,
) -> Allocation:
    """Optimal (f, b) and energy for each row of ``parts`` (C × N partition points).

    ``price_hint`` (a nearby bandwidth price, J/Hz) first searches two decades either side of
    it; rows whose price lies beyond are searched over the whole range. ``coarse`` screens
    many similar partition vectors fast (no second search): energies good to about 1e-5,
    enough to rank them, not to report.

    Devices with a clock table run at ``levels`` (C × N table indices, −1 for devices
    without one): then the allocation is exact. Without ``levels`` each such device's entry is
    chosen at the bandwidth price: a feasible allocation whenever the partition admits one,
    but not always the optimum (a price cannot always split B between discrete choices).
    """
    parts = np.atleast_2d(parts)
    batch = _Batch(data, parts, None if levels is None else np.atleast_2d(levels))
    b_req = batch.min_bandwidth()
    feasible = np.isfinite(b_req).all(axis=1) & (b_req.sum(axis=1) <= batch.B * (1 + 1e-12))
    lo = np.where(np.isfinite(b_req), np.minimum(b_req, batch.B), 0.0)

    golden = SCREEN_GOLDEN_STEPS if coarse else GOLDEN_STEPS
    b = batch.best_bandwidth(lo, np.zeros((lo.shape[0], 1)), golden)
    enough = b.sum(axis=1) <= batch.B * (1 + 1e-12)
    if price_hint is not None and price_hint > 0:
        centre = float(np.log10(price_hint))
        steps = SCREEN_PRICE_STEPS if coarse else HINTED_PRICE_STEPS
        log_price, beyond = _price_search(batch, lo, centre - 2.0, centre + 2.0, steps, golden)
        if not coarse and (beyond & ~enough).any():
            full, _ = _price_search(batch, lo, *LOG_PRICE_RANGE, PRICE_STEPS, golden)
            log_price = np.where(beyond[:, None], full, log_price)
    else:
        log_price, _ = _price_search(batch, lo, *LOG_PRICE_RANGE, PRICE_STEPS, golden)
    priced = batch.best_bandwidth(lo, 10.0**log_price, golden)  # the side where Σ b ≤ B
    # share out what the search's resolution left unused (more bandwidth never costs energy)
    # among the devices above their least bandwidth, in proportion to their excess over it
    excess = priced - np.where(batch.sends, lo, 0.0)
    spare = batch.B - priced.sum(axis=1, keepdims=True)
    total_excess = excess.sum(axis=1, keepdims=True)
    short = (spare > 0) & (total_excess > 0)
    priced = np.where(short, priced + excess * (spare / np.where(short, total_excess, 1.0)), priced)
    b = np.where(enough[:, None], b, priced)
    f, ok = batch.clock(b)
    e = batch.energy(f, b)
    feasible &= ok.all(axis=1) & (b.sum(axis=1) <= batch.B * (1 + 1e-9))
    total_energy = np.where(feasible, e.sum(axis=1), np.inf)
    price = np.where(enough, 0.0, 10.0 ** log_price[:, 0])
    return Allocation(total_energy, feasible, f, b, price)


def settle(data: RobustData, parts: np.ndarray, b: np.ndarray) -> Allocation:
    """Make a solver's (approximate) bandwidths exactly feasible for one partition vector:
    raise each to the least its deadline needs at f_max, take any excess over B from the
    shares above those least amounts in proportion, and give every device its best clock
    for its bandwidth.

    Interior-point solutions meet constraints only to ~1e-8; this projection turns them into
    plans the evaluator accepts, at an energy within the solver's tolerance. Infeasible only
    where the partition vector is (the least amounts exceed B, or a device cannot meet its
    deadline at all).
    """
    batch = _Batch(data, np.atleast_2d(parts))
    need = batch.min_bandwidth()
    floor = np.where(np.isfinite(need), need, 0.0)
    b = np.where(batch.sends, np.maximum(np.atleast_2d(b), floor), 0.0)
    excess = b - floor
    room = batch.B - floor.sum(axis=1, keepdims=True)
    over = b.sum(axis=1, keepdims=True) > batch.B
    share = np.clip(room / np.maximum(excess.sum(axis=1, keepdims=True), 1e-300), 0.0, 1.0)
    b = np.where(over, floor + excess * share, b)
    f, ok = batch.clock(b)
    e = batch.energy(f, b)
    feasible = np.asarray(ok.all(axis=1)) & np.isfinite(need).all(axis=1) & (room[:, 0] >= 0)
    return Allocation(np.where(feasible, e.sum(axis=1), np.inf), feasible, f, b, np.full(len(b), np.nan))


def clock_choices(data: RobustData) -> list[list[tuple[int, int]]]:
    """Per device the (partition point, table index) pairs an optimum may use (index −1 for a
    device without a table): pairs that cannot meet the deadline with the whole bandwidth are
    dropped, and so is every pair that another pair beats on computing energy, least bandwidth
    and bits sent together (at any bandwidth where the former is feasible the latter is
    feasible and no dearer: same or fewer bits over the same rate)."""
    choices = []
    for i, d in enumerate(data.devices):
        if d.clocks is None:
            choices.append([(m, -1) for m in range(d.num_points)])
            continue
        K = d.clocks.size
        parts = np.zeros((d.num_points * K, len(data.devices)), dtype=int)
        parts[:, i] = np.repeat(np.arange(d.num_points), K)
        levels = np.full(parts.shape, -1)
        levels[:, i] = np.tile(np.arange(K), d.num_points)
        for other, o in enumerate(data.devices):
            if other != i and o.clocks is not None:
                levels[:, other] = 0
        batch = _Batch(data, parts, levels)
        need = batch.min_bandwidth()[:, i]
        work = batch.local_energy(batch.f_max)[:, i]
        bits = batch.bits[:, i]
        usable = np.isfinite(need)
        # beats[p, r]: pair p is no worse than pair r on all three, and better on one or earlier
        no_worse = (
            (need[:, None] <= need[None, :])
            & (work[:, None] <= work[None, :])
            & (bits[:, None] <= bits[None, :])
        )
        better = (
            (need[:, None] < need[None, :])
            | (work[:, None] < work[None, :])
            | (bits[:, None] < bits[None, :])
        )
        earlier = np.arange(need.size)[:, None] < np.arange(need.size)[None, :]
        beats = usable[:, None] & no_worse & (better | earlier)
        kept = [(int(p // K), int(p % K)) for p in np.flatnonzero(usable & ~beats.any(axis=0))]
        choices.append(kept or [(0, K - 1)])
    return choices
