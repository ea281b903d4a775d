"""ENACHI's outer, per-frame step: max V·Σ a − Σ_n Q_n E_n over splits, bandwidth, power.

Planning model (expected channel = path-loss mean ḡ_n): with share ω and reference power p
a device's rate is r = ωW·log2(1 + p·ḡ/(ωW·N0)); split s leaves a window of
T_win(n, s) = (last(s) − first(n, s))·δ; k packets cost E_loc(n, s) + p·k·L/r and give the
surrogate accuracy a(s, k/K(s)).

- ``discrete``: with ω and p fixed, the best (s, k) per device by vectorised enumeration
  (the layered-graph shortest path of the tests: split × packets).
- ``ConvexStep``: with the splits fixed, the concave problem in (ω, p, ρ), written for CVXPY
  with parameters (DPP) so a frame only updates values and re-solves:
      max Σ_n −V(a_max − a_0)e^{−β ρ_n} − Q_n T_win p_n
      s.t. ρ_n D_n ≤ T_win (W/ln 2)·ω_n ln(1 + ḡ p_n/(ωW N0)),  Σ ω ≤ 1,  0 ≤ p ≤ P_max,  0 ≤ ρ ≤ 1
  (variable z = βρ keeps the objective DPP). Sending over the whole window at constant power
  is the cheapest way to move given bits, because energy per bit grows with power.
- ``plan``: block-coordinate ascent alternating the two steps (at most ``ROUNDS`` rounds),
  from two starts (the previous frame's splits, and each device's best split at equal shares
  and full power: a device without bandwidth could otherwise never leave device-only), keeping
  the best decision by the planning objective. A local optimum, not a proven one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from optsplit.solvers.options import SolveOptions

from .data import OnlineData
from .engine import Decision

log = logging.getLogger(__name__)

ROUNDS = 4
# Tiny price on transmit energy so that p is well defined when a queue is empty (J⁻¹).
ENERGY_TIE = 1e-6


def mean_rate(data: OnlineData, omega: np.ndarray, power: np.ndarray) -> np.ndarray:
    """Planning rate at the mean channel, bits/s (0 without bandwidth or power)."""
    band = omega * data.bandwidth
    with np.errstate(divide="ignore", invalid="ignore"):
        r = band * np.log2(1.0 + power * data.gain / (band * data.noise))
    return np.where((band > 0) & (power > 0), r, 0.0)


def window(data: OnlineData) -> np.ndarray:
    """T_win(n, s), seconds (0 where the split cannot send in time)."""
    return np.maximum(data.last[None, :] - data.first, 0) * data.slot


@dataclass(frozen=True)
class Choice:
    """Per device: split, packet cap and the planning utility V·a − Q·E of that choice."""

    split: np.ndarray
    cap: np.ndarray
    utility: np.ndarray
    open_end: np.ndarray  # the cap is the most the window carries (more would still pay)


def utilities(
    data: OnlineData, queue: np.ndarray, V: float, omega: np.ndarray, power: np.ndarray, allowed: np.ndarray
) -> np.ndarray:
    """U[n, s, k] = V·a(s, k/K) − Q_n·(E_loc + p·k·L/r); −inf where (s, k) is not possible."""
    rate = mean_rate(data, omega, power)
    kmax_all = int(data.packets.max())
    k = np.arange(kmax_all + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = np.floor(rate[:, None] * window(data) / data.packet_bits + 1e-9)
    kmax = np.where(data.feasible, np.minimum(fit, data.packets[None, :]), 0)
    kmax = np.where(np.isfinite(kmax), kmax, 0)
    s_idx = np.arange(len(data.split_names))
    frac = k[None, :] / np.maximum(data.packets[:, None], 1)
    acc = data.surrogate.value(s_idx[:, None], frac)  # (S, K+1)
    acc = np.where(data.feasible[:, :, None], acc[None, :, :], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_packet = np.where(rate > 0, power * data.packet_bits / rate, 0.0)  # J per packet
    energy = data.e_loc[:, :, None] + per_packet[:, None, None] * k[None, None, :]
    u = V * acc - queue[:, None, None] * energy
    ok = allowed[:, :, None] & (k[None, None, :] <= kmax[:, :, None])
    return np.where(ok, u, -np.inf)


def discrete(
    data: OnlineData, queue: np.ndarray, V: float, omega: np.ndarray, power: np.ndarray, allowed: np.ndarray
) -> Choice:
    """Best (split, packets) per device for fixed ω and p (first best on ties)."""
    u = utilities(data, queue, V, omega, power, allowed)
    n, s, k = u.shape
    flat = u.reshape(n, s * k)
    best = np.argmax(flat, axis=1)
    rows = np.arange(n)
    split, cap = best // k, best % k
    nxt = np.minimum(cap + 1, k - 1)
    edge = ~np.isfinite(u[rows, split, nxt]) | (nxt == cap)  # no further packet fits
    open_end = edge & (cap > 0) & (cap < data.packets[split])
    return Choice(split, cap, flat[rows, best], open_end)


class ConvexStep:
    """The (ω, p, ρ) problem for fixed splits, built once, re-solved with new parameters."""

    def __init__(self, data: OnlineData) -> None:
        import cvxpy as cp  # imported here: the formulation loads without CVXPY until a frame is solved

        n = data.n
        self.data = data
        self.omega = cp.Variable(n, nonneg=True)
        self.power = cp.Variable(n, nonneg=True)
        self.z = cp.Variable(n, nonneg=True)
        self.amp = cp.Parameter(n, nonneg=True)
        self.zmax = cp.Parameter(n, nonneg=True)
        self.cost = cp.Parameter(n, nonneg=True)
        self.need = cp.Parameter(n, nonneg=True)
        self.lo = cp.Parameter(n, nonneg=True)
        self.hi = cp.Parameter(n, nonneg=True)
        snr = data.gain / (data.bandwidth * data.noise)  # SNR per unit power per unit share
        capacity = -cp.rel_entr(self.omega, self.omega + cp.multiply(snr, self.power))  # ω ln(1+…)
        objective = cp.Maximize(
            -cp.sum(cp.multiply(self.amp, cp.exp(-self.z))) - cp.sum(cp.multiply(self.cost, self.power))
        )
        constraints = [
            cp.multiply(self.need, self.z) <= capacity,
            self.z <= self.zmax,
            self.power <= data.p_max,
            self.omega >= self.lo,
            self.omega <= self.hi,
            cp.sum(self.omega) <= 1,
        ]
        self.problem = cp.Problem(objective, constraints)
        self.fallbacks = 0

    def solve(
        self, split: np.ndarray, queue: np.ndarray, V: float, equal_share: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ω, p̄) for the given splits; an equal split at full power if the solver fails."""
        data = self.data
        rows = np.arange(data.n)
        t_win = window(data)[rows, split]
        active = (data.bits[split] > 0) & data.feasible[rows, split] & (t_win > 0)
        sur = data.surrogate
        beta = np.where(active, sur.beta[split], 1.0)
        self.amp.value = np.where(active, V * (sur.amax[split] - sur.a0[split]), 0.0)
        self.zmax.value = beta
        self.cost.value = (queue + ENERGY_TIE) * np.where(active, t_win, 1.0)
        need = data.bits[split] * np.log(2.0) / (np.where(active, t_win, 1.0) * data.bandwidth * beta)
        self.need.value = np.where(active, need, 0.0)
        share = 1.0 / data.n
        self.lo.value = np.where(active & equal_share, share, 0.0)
        self.hi.value = np.where(active, share if equal_share else 1.0, 0.0)
        from optsplit.solvers.cvxpy_backend import solve_cvxpy

        out = solve_cvxpy(self.problem, "clarabel", SolveOptions())
        if not out.has_solution or self.omega.value is None or self.power.value is None:
            self.fallbacks += 1
            log.warning("convex step failed (%s); equal shares at full power", out.termination.value)
            return np.where(active, share, 0.0), np.where(active, data.p_max, 0.0)
        omega = np.clip(self.omega.value, 0.0, 1.0) * active
        total = omega.sum()
        if total > 1.0:
            omega = omega / total
        if equal_share:
            omega = np.where(active, share, 0.0)
        power = np.clip(self.power.value, 0.0, data.p_max) * active
        return omega, power


def plan(
    data: OnlineData,
    step: ConvexStep | None,
    queue: np.ndarray,
    V: float,
    allowed: np.ndarray,
    *,
    equal_share: bool = False,
    start: np.ndarray | None = None,
) -> Decision:
    """One frame's outer decision by block-coordinate ascent (convex step ↔ discrete step)."""
    n = data.n
    share = np.full(n, 1.0 / n)
    if step is None:  # nothing to transmit (device-only): the discrete step alone decides
        choice = discrete(data, queue, V, np.zeros(n), np.zeros(n), allowed)
        return Decision(choice.split, np.zeros(n), np.zeros(n), choice.cap, choice.open_end)
    fresh = discrete(data, queue, V, share, data.p_max, allowed).split
    starts = [fresh] if start is None or np.array_equal(start, fresh) else [start, fresh]
    best: tuple[float, Decision] | None = None
    for split in starts:
        for _ in range(ROUNDS):
            omega, power = step.solve(split, queue, V, equal_share)
            choice = discrete(data, queue, V, omega, power, allowed)
            total = float(choice.utility.sum())
            if best is None or total > best[0] + 1e-12 * max(abs(total), 1.0):
                best = (total, Decision(choice.split, omega, power, choice.cap, choice.open_end))
            if np.array_equal(choice.split, split):
                break
            split = choice.split
    assert best is not None
    return best[1]
