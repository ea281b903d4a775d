"""The paper's decomposition: convex resource allocation ⇄ partitioning by penalty CCP.

Partition step (clocks f and bandwidths b fixed): x[n, m] ∈ [0, 1], Σ_m x = 1, minimise
Σ c[n, m]·x[n, m] (energy of each point at the fixed f, b) subject to the chance
constraint Σ_m μ_m x_m + k·sqrt(Σ_m v_m x_m) ≤ D, and binarity as the DC constraint
Σ_m (x_m − x_m²) ≤ 0. The concave parts (sqrt, −x²) are replaced by their tangents at the
current x (an over-estimate, so iterates satisfy the true constraint), slacks are
penalised with weight τ, and τ grows by μ each iteration (Lipp & Boyd 2016). The LP is a
DPP CVXPY problem built once; only parameters change between iterations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np

from optsplit.formulations.robust.data import RobustData
from optsplit.formulations.robust.physics import energy, tx_time
from optsplit.solvers.cvxpy_backend import solve_cvxpy
from optsplit.solvers.options import SolveOptions


@dataclass
class PccpSettings:
    """Penalty CCP parameters: τ₀ (relative to the mean point energy), growth μ, cap, tolerances."""

    tau0: float = 0.05
    growth: float = 1.5
    tau_max: float = 1e5
    max_iterations: int = 60
    tolerance: float = 1e-7
    solver: str = "highs"


@dataclass
class PartitionLP:
    """The linearised partition problem with its parameters."""

    problem: cp.Problem
    x: cp.Variable
    slack_deadline: cp.Variable
    slack_binary: cp.Variable
    cost: cp.Parameter
    deadline_coef: cp.Parameter
    deadline_rhs: cp.Parameter
    binary_coef: cp.Parameter
    binary_rhs: cp.Parameter
    tau: cp.Parameter
    upper: np.ndarray  # 1 where the partition point exists for the device
    iterations: list[dict[str, Any]] = field(default_factory=list)


def build(data: RobustData) -> PartitionLP:
    n = len(data.devices)
    width = max(d.num_points for d in data.devices)
    upper = np.zeros((n, width))
    for i, d in enumerate(data.devices):
        upper[i, :d.num_points] = 1.0
    x = cp.Variable((n, width), nonneg=True)
    s_dl = cp.Variable(n, nonneg=True)
    s_bin = cp.Variable(n, nonneg=True)
    cost = cp.Parameter((n, width))
    deadline_coef = cp.Parameter((n, width))
    deadline_rhs = cp.Parameter(n)
    binary_coef = cp.Parameter((n, width))
    binary_rhs = cp.Parameter(n)
    tau = cp.Parameter(nonneg=True)
    constraints = [
        x <= upper,
        cp.sum(x, axis=1) == 1,
        cp.sum(cp.multiply(deadline_coef, x), axis=1) <= deadline_rhs + s_dl,
        cp.sum(cp.multiply(binary_coef, x), axis=1) <= binary_rhs + s_bin,
    ]
    objective = cp.sum(cp.multiply(cost, x)) + tau * (cp.sum(s_dl) + cp.sum(s_bin))
    return PartitionLP(cp.Problem(cp.Minimize(objective), constraints), x, s_dl, s_bin, cost,
                       deadline_coef, deadline_rhs, binary_coef, binary_rhs, tau, upper)


def _point_tables(data: RobustData, f: np.ndarray, b: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy c, mean time μ and variance v of every (device, point) at fixed f, b."""
    n = len(data.devices)
    width = max(d.num_points for d in data.devices)
    c, mu, v = (np.zeros((n, width)) for _ in range(3))
    for i, d in enumerate(data.devices):
        k = slice(0, d.num_points)
        with np.errstate(divide="ignore", invalid="ignore"):
            local = np.where(d.a > 0, d.a / f[i], 0.0)
        tx = tx_time(d.bits, np.full(d.num_points, b[i]), d.snr_per_hz)
        c[i, k] = energy(d.a, d.bits, f[i], b[i], d.kappa, d.static_power, d.tx_power,
                         d.snr_per_hz)
        mu[i, k] = local + tx + d.mu_e
        v[i, k] = (d.s / f[i]) ** 2 + d.var_e
    return c, mu, v


def partition(lp: PartitionLP, data: RobustData, f: np.ndarray, b: np.ndarray,
              settings: PccpSettings, options: SolveOptions) -> tuple[np.ndarray, int]:
    """Run penalty CCP from the relaxation; returns the 0/1 partition and the iteration count."""
    c, mu, v = _point_tables(data, f, b)
    big = 1e3 * np.nanmax(np.where(np.isfinite(c), c, np.nan)) if np.isfinite(c).any() else 1e6
    mu = np.where(np.isfinite(mu), mu, 1e6)  # a point that cannot send is made unattractive
    c = np.where(np.isfinite(c), c, big)
    lp.cost.value = c * lp.upper
    margin = np.array([d.margin for d in data.devices])
    deadline = np.array([d.deadline for d in data.devices])
    x = lp.upper / lp.upper.sum(axis=1, keepdims=True)  # start from the uniform mixture
    scale = float(np.mean(c[lp.upper > 0]))
    tau = settings.tau0 * scale
    iterations = 0
    previous = np.inf
    for iterations in range(1, settings.max_iterations + 1):
        total_var = np.maximum((v * x).sum(axis=1), 1e-30)
        root = np.sqrt(total_var)
        # tangent of k·sqrt(v·x) at x: k·root + k·v·(x' − x)/(2·root)
        lp.deadline_coef.value = (mu + (margin / (2 * root))[:, None] * v) * lp.upper
        lp.deadline_rhs.value = deadline - margin * root / 2
        # tangent of Σ(x − x²): Σ (1 − 2x)·x' + Σ x²  ≤ slack
        lp.binary_coef.value = (1 - 2 * x) * lp.upper
        lp.binary_rhs.value = -(x**2).sum(axis=1)
        lp.tau.value = tau
        out = solve_cvxpy(lp.problem, settings.solver, options)
        if not out.has_solution:
            break
        x = np.clip(np.asarray(lp.x.value), 0.0, 1.0) * lp.upper
        slack = float(np.sum(lp.slack_deadline.value) + np.sum(lp.slack_binary.value))
        value = float(np.sum(c * x))
        lp.iterations.append({"pccp_iteration": iterations, "tau": tau, "energy": value,
                              "slack": slack,
                              "max_fraction": float(np.max(np.minimum(x, 1 - x)))})
        if slack < settings.tolerance and abs(previous - value) <= settings.tolerance * scale:
            break
        previous = value
        tau = min(settings.growth * tau, settings.tau_max * scale)
    return np.argmax(x, axis=1), iterations
