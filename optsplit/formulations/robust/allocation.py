"""Convex resource allocation for a fixed partition vector, as a vectorised CVXPY problem.

Built afresh for each partition vector (no parameters): only the devices that compute
locally carry a clock variable and only those that send carry bandwidth, rate and air-time
variables, so no cone is left with a zero coefficient (a parametrised model re-solved with
zeros there overran its deadline rows by 2.2e-4 where a fresh build did not), and every
constraint is one vector expression, so CVXPY's compile grows linearly with the devices (the
per-device norms of the parametrised model grew as N³: 9.8 GB at 300 devices).

Every quantity is in units of the instance, so that the conic solver sees numbers near 1
whatever the instance's magnitudes (bandwidths from 1e5 to 1e15 Hz): the clock through
u = f_max/f ≥ 1 (so the latency is affine in u and its std term the norm ‖(s·u, σ_e)‖₂ of an
affine vector); each device's bandwidth in units of min(p·g/N0, B/N), the bandwidth at which
its link leaves the power-limited regime, or its equal share when that is smaller; times in
units of the device's deadline; energy in units of the partition's energy at f_max with
equal shares. The rate uses the exponential cone through b·log(1 + c/b) = −rel_entr(b, b + c).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from optsplit.formulations.robust.data import RobustData
from optsplit.formulations.robust.physics import energy
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import get_backend

LN2 = float(np.log(2.0))


@dataclass
class AllocationProblem:
    """The CVXPY problem of the partition vector last loaded, and the units it works in."""

    unit: np.ndarray  # bandwidth unit per device, Hz
    bandwidth: float  # B, Hz
    f_max: np.ndarray
    deadline: np.ndarray
    backend: Any = "cvxpy-clarabel"  # a registered back-end name or a Backend object (CVXPY kind)
    problem: cp.Problem | None = None
    inverse_clock: cp.Variable | None = None  # u = f_max / f of the computing devices
    beta: cp.Variable | None = None  # b / unit of the sending devices
    budget: cp.Constraint | None = None  # Σ b ≤ B, scaled by 1/B
    computes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    sends: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    energy_unit: float = 1.0  # E0, J

    def set_partition(self, data: RobustData, parts: np.ndarray) -> None:
        """Build the problem of one partition vector: one vector expression per constraint."""
        devs = data.devices
        n = len(devs)

        def at(attr: str) -> np.ndarray:
            return np.array([getattr(d, attr)[m] for d, m in zip(devs, parts)], dtype=float)

        def const(attr: str) -> np.ndarray:
            return np.array([getattr(d, attr) for d in devs], dtype=float)

        a, s, mu_e, var_e, bits = at("a"), at("s"), at("mu_e"), at("var_e"), at("bits")
        kappa, static, tx_power = const("kappa"), const("static_power"), const("tx_power")
        snr, margin = const("snr_per_hz"), const("margin")
        share = np.full(n, data.bandwidth / n)
        e0 = float(np.sum(energy(a, bits, self.f_max, share, kappa, static, tx_power, snr)))
        self.energy_unit = e0 if np.isfinite(e0) and e0 > 0 else 1.0
        c = self.computes = np.flatnonzero(a > 0)
        t = self.sends = np.flatnonzero(bits > 0)
        t_unit = self.f_max * self.deadline
        spread_server = np.sqrt(var_e) / self.deadline
        # latency in deadlines: a constant part, the clock's part (computing devices) and the
        # air time (sending devices), gathered onto all devices by 0/1 matrices
        latency: Any = cp.Constant(mu_e / self.deadline + np.where(a > 0, 0.0, margin * spread_server))
        objective: Any = 0.0
        constraints: list[cp.Constraint] = []
        if c.size:
            u = self.inverse_clock = cp.Variable(c.size, name="fmax_over_f")
            with np.errstate(divide="ignore"):
                slowest = self.f_max[c] / const("f_min")[c]  # inf where f_min = 0
            bounded = np.flatnonzero(np.isfinite(slowest))
            constraints += [u >= 1.0, u[bounded] <= slowest[bounded]]
            spread = cp.norm(cp.vstack([cp.multiply(s[c] / t_unit[c], u), spread_server[c]]), 2, axis=0)
            own = cp.multiply(a[c] / t_unit[c], u) + cp.multiply(margin[c], spread)
            latency = latency + _gather(c, n) @ own
            dynamic = kappa[c] * a[c] * self.f_max[c] ** 2 / self.energy_unit
            objective = cp.sum(cp.multiply(dynamic, cp.power(u, -2)))
            objective += (static[c] * a[c] / self.f_max[c] / self.energy_unit) @ u
        if t.size:
            beta = self.beta = cp.Variable(t.size, nonneg=True, name="b_over_unit")
            rate = cp.Variable(t.size, nonneg=True, name="rate_over_unit")
            air = cp.Variable(t.size, nonneg=True, name="tx_over_deadline")
            constraints += [
                rate <= -cp.rel_entr(beta, beta + snr[t] / self.unit[t]) / LN2,
                air >= cp.multiply(bits[t] / (self.unit[t] * self.deadline[t]), cp.inv_pos(rate)),
            ]
            latency = latency + _gather(t, n) @ air
            objective = objective + (tx_power[t] * self.deadline[t] / self.energy_unit) @ air
            self.budget = (self.unit[t] / self.bandwidth) @ beta <= 1
            constraints.append(self.budget)
        else:
            self.beta, self.budget = None, None
        if not c.size:
            self.inverse_clock = None
        constraints.append(latency <= 1)
        self.problem = cp.Problem(cp.Minimize(objective), constraints)

    def point(self) -> tuple[np.ndarray, np.ndarray]:
        """Clocks (Hz; f_max where nothing runs locally) and bandwidths (Hz) of the solved point."""
        f = self.f_max.copy()
        b = np.zeros(len(self.f_max))
        if self.inverse_clock is not None:
            u = np.asarray(self.inverse_clock.value, dtype=float)
            f[self.computes] = self.f_max[self.computes] / np.maximum(u, 1.0)
        if self.beta is not None:
            beta = np.maximum(np.asarray(self.beta.value, dtype=float), 0.0)
            b[self.sends] = beta * self.unit[self.sends]
        return f, b


def _gather(index: np.ndarray, n: int) -> sp.csr_matrix:
    """The n × len(index) 0/1 matrix placing a sub-vector at its devices."""
    return sp.csr_matrix((np.ones(index.size), (index, np.arange(index.size))), shape=(n, index.size))


def build(data: RobustData) -> AllocationProblem:
    """The instance's units; the problem itself is built by ``set_partition``."""
    n = len(data.devices)
    f_max = np.array([d.f_max for d in data.devices], dtype=float)
    deadline = np.array([d.deadline for d in data.devices], dtype=float)
    snr = np.array([d.snr_per_hz for d in data.devices], dtype=float)
    return AllocationProblem(np.minimum(snr, data.bandwidth / n), data.bandwidth, f_max, deadline)


def solve(
    ap: AllocationProblem, options: SolveOptions
) -> tuple[Outcome, np.ndarray | None, np.ndarray | None, float | None]:
    """Solve on the problem's back-end; returns the outcome (objective and bound in J), f and b
    in Hz, and the bandwidth price in J/Hz (the dual of Σ b ≤ B; 0 when nothing is sent)."""
    if ap.problem is None:
        raise ValueError("no partition loaded: call set_partition first")
    backend = get_backend(ap.backend) if isinstance(ap.backend, str) else ap.backend
    out = backend.solve(ap.problem, options)
    for attr in ("objective", "bound"):
        value = getattr(out, attr)
        if value is not None:
            setattr(out, attr, value * ap.energy_unit)
    if not out.has_solution:
        return out, None, None, None
    f, b = ap.point()
    dual = ap.budget.dual_value if ap.budget is not None else 0.0
    price = None if dual is None else max(float(dual), 0.0) * ap.energy_unit / ap.bandwidth
    return out, f, b, price
