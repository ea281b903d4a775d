"""Convex resource allocation for fixed partitions, as a DPP-compliant CVXPY problem.

Built once per instance and re-solved with new partition parameters (CVXPY caches the
canonicalisation). Units are scaled for the conic solver: clocks in GHz, bandwidth in MHz,
cycles in 10⁹, bits in 10⁶. The rate uses the exponential cone through
b·log(1 + c/b) = −rel_entr(b, b + c); the std term is ‖(s/f, σ_e)‖₂, so the problem is DCP.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from optsplit.formulations.robust.data import RobustData
from optsplit.solvers.cvxpy_backend import solve_cvxpy
from optsplit.solvers.options import Outcome, SolveOptions

GHZ, MHZ, GIGA, MEGA = 1e9, 1e6, 1e9, 1e6
LN2 = float(np.log(2.0))


@dataclass
class AllocationProblem:
    """The CVXPY problem and its parameters (one entry per device)."""

    problem: cp.Problem
    f: cp.Variable  # GHz
    b: cp.Variable  # MHz
    a: cp.Parameter  # 10⁹ cycles
    s: cp.Parameter
    mu_e: cp.Parameter
    sd_e: cp.Parameter
    bits: cp.Parameter  # 10⁶ bits

    def set_partition(self, data: RobustData, parts: np.ndarray) -> None:
        d = data.devices
        self.a.value = np.array([dev.a[m] for dev, m in zip(d, parts)]) / GIGA
        self.s.value = np.array([dev.s[m] for dev, m in zip(d, parts)]) / GIGA
        self.mu_e.value = np.array([dev.mu_e[m] for dev, m in zip(d, parts)])
        self.sd_e.value = np.sqrt([dev.var_e[m] for dev, m in zip(d, parts)])
        self.bits.value = np.array([dev.bits[m] for dev, m in zip(d, parts)]) / MEGA


def build(data: RobustData) -> AllocationProblem:
    d = data.devices
    n = len(d)
    arr = lambda attr: np.array([getattr(x, attr) for x in d], dtype=float)  # noqa: E731
    f = cp.Variable(n, name="f_GHz")
    b = cp.Variable(n, nonneg=True, name="b_MHz")
    r = cp.Variable(n, nonneg=True, name="rate_Mbps")
    t = cp.Variable(n, nonneg=True, name="tx_time")
    a = cp.Parameter(n, nonneg=True)
    s = cp.Parameter(n, nonneg=True)
    mu_e = cp.Parameter(n, nonneg=True)
    sd_e = cp.Parameter(n, nonneg=True)
    bits = cp.Parameter(n, nonneg=True)
    snr = arr("snr_per_hz") / MHZ  # in MHz, so that b·log(1 + snr/b) keeps its form
    kappa = arr("kappa") * GIGA * GHZ**2  # energy κ·a·f² in J with a in 10⁹, f in GHz
    static = arr("static_power") * GIGA / GHZ
    inv_f = cp.inv_pos(f)
    spread = cp.hstack([cp.norm(cp.hstack([s[i] * inv_f[i], sd_e[i]])) for i in range(n)])
    constraints = [
        f >= arr("f_min") / GHZ,
        f <= arr("f_max") / GHZ,
        r <= -cp.rel_entr(b, b + snr) / LN2,
        t >= cp.multiply(bits, cp.inv_pos(r)),
        cp.multiply(a, inv_f) + t + mu_e + cp.multiply(arr("margin"), spread) <= arr("deadline"),
        cp.sum(b) <= data.bandwidth / MHZ,
    ]
    objective = cp.sum(
        cp.multiply(kappa, cp.multiply(a, cp.square(f)))
        + cp.multiply(static, cp.multiply(a, inv_f))
        + cp.multiply(arr("tx_power"), t)
    )
    problem = cp.Problem(cp.Minimize(objective), constraints)
    return AllocationProblem(problem, f, b, a, s, mu_e, sd_e, bits)


def solve(
    ap: AllocationProblem, options: SolveOptions, solver: str = "clarabel"
) -> tuple[Outcome, np.ndarray | None, np.ndarray | None, float | None]:
    """Solve; returns the outcome, f and b in Hz, and the bandwidth price in J/Hz."""
    out = solve_cvxpy(ap.problem, solver, options)
    if not out.has_solution:
        return out, None, None, None
    f = np.asarray(ap.f.value, dtype=float) * GHZ
    b = np.maximum(np.asarray(ap.b.value, dtype=float), 0.0) * MHZ
    dual = ap.problem.constraints[-1].dual_value
    price = None if dual is None else max(float(dual), 0.0) / MHZ
    return out, f, b, price
