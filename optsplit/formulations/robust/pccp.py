"""The paper's decomposition: convex resource allocation ⇄ partitioning by penalty CCP.

Partition step: x[n, m] ∈ [0, 1], Σ_m x = 1, minimise Σ c[n, m]·x[n, m], where c is each
point's energy at its best clock, and, once an allocation has been solved, at the bandwidth
that balances energy against the allocation's bandwidth price (the dual of Σ b ≤ B: a
Lagrangian decomposition of the coupling), subject to the chance
constraint, which for one-hot x is the linear row Σ_m L_m x_m ≤ D (L = μ + kσ of each
point), and binarity as the DC constraint Σ_m (x_m − x_m²) ≤ 0. Its concave part −x² is
replaced by its tangent at the current x, the slacks are penalised (deadline: a fixed exact
penalty; binarity: weight τ growing by μ each iteration, Lipp & Boyd 2016) until x is 0/1.
The LP is a DPP CVXPY problem built once; only parameters change between iterations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np

from optsplit.formulations.robust.data import RobustData
from optsplit.formulations.robust.kkt import _Batch
from optsplit.formulations.robust.physics import energy, robust_latency
from optsplit.result import Termination
from optsplit.solvers.cvxpy_backend import solve_cvxpy
from optsplit.solvers.options import SolveOptions


@dataclass
class PccpSettings:
    """Penalty CCP parameters: τ₀, growth μ, cap and tolerances, all relative to the mean
    point energy (the LP's costs are divided by it, so they are near 1 at any scale)."""

    tau0: float = 0.05
    deadline_weight: float = 1e4  # exact penalty on relative deadline excess, × mean energy
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
    deadline_weight: cp.Parameter
    upper: np.ndarray  # 1 where the partition point exists for the device
    iterations: list[dict[str, Any]] = field(default_factory=list)


def build(data: RobustData) -> PartitionLP:
    n = len(data.devices)
    width = max(d.num_points for d in data.devices)
    upper = np.zeros((n, width))
    for i, d in enumerate(data.devices):
        upper[i, : d.num_points] = 1.0
    x = cp.Variable((n, width), nonneg=True)
    s_dl = cp.Variable(n, nonneg=True)
    s_bin = cp.Variable(n, nonneg=True)
    cost = cp.Parameter((n, width))
    deadline_coef = cp.Parameter((n, width))
    deadline_rhs = cp.Parameter(n)
    binary_coef = cp.Parameter((n, width))
    binary_rhs = cp.Parameter(n)
    tau = cp.Parameter(nonneg=True)
    deadline_weight = cp.Parameter(nonneg=True)
    constraints = [
        x <= upper,
        cp.sum(x, axis=1) == 1,
        cp.sum(cp.multiply(deadline_coef, x), axis=1) <= deadline_rhs + s_dl,
        cp.sum(cp.multiply(binary_coef, x), axis=1) <= binary_rhs + s_bin,
    ]
    objective = cp.sum(cp.multiply(cost, x)) + deadline_weight * cp.sum(s_dl) + tau * cp.sum(s_bin)
    return PartitionLP(
        cp.Problem(cp.Minimize(objective), constraints),
        x,
        s_dl,
        s_bin,
        cost,
        deadline_coef,
        deadline_rhs,
        binary_coef,
        binary_rhs,
        tau,
        deadline_weight,
        upper,
    )


def _point_tables(data: RobustData, b: np.ndarray, price: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Cost c and robust latency L = μ + kσ of every (device, point).

    Without a price each point is evaluated at the given bandwidth b; with the bandwidth
    price λ of the last allocation (the dual of Σ b ≤ B) each point takes the bandwidth
    minimising energy + λ·b, and c is that Lagrangian cost. Either way each point runs at its
    best clock (the larger of the one its deadline needs and the energy-minimising one); a
    point that cannot meet its deadline even at f_max is priced at f_max, its L above D.
    """
    n = len(data.devices)
    width = max(d.num_points for d in data.devices)
    sizes = np.array([d.num_points for d in data.devices])
    parts = np.minimum(np.arange(width)[:, None], sizes[None, :] - 1)  # (width, N)
    batch = _Batch(data, parts)
    if price is None:
        bw = np.array(np.broadcast_to(b, parts.shape), dtype=float)
        charge = np.zeros_like(bw)
    else:
        lo = batch.min_bandwidth()
        usable = np.isfinite(lo)
        bw = batch.best_bandwidth(np.where(usable, lo, 0.0), np.full_like(lo, price))
        bw = np.where(usable, bw, np.broadcast_to(b, parts.shape))
        charge = price * bw
    f, ok = batch.clock(bw)
    f = np.where(ok, f, batch.f_max)
    c, L = np.full((n, width), np.inf), np.full((n, width), np.inf)
    for i, d in enumerate(data.devices):
        k = slice(0, d.num_points)
        fi, bi = f[: d.num_points, i], bw[: d.num_points, i]
        c[i, k] = (
            energy(
                d.a, d.bits, fi, bi, d.kappa, d.static_power, d.tx_power, d.snr_per_hz, d.c, d.power, d.max_se
            )
            + charge[: d.num_points, i]
        )
        L[i, k] = robust_latency(
            d.a, d.s, d.mu_e, d.var_e, d.bits, fi, bi, d.snr_per_hz, d.margin, d.c, d.q, d.max_se
        )
    return c, L


@dataclass
class PccpRun:
    """One penalty-CCP run: the 0/1 partition it rounds to, its iterations, and how it ended:
    LOCALLY_SOLVED (slacks zero, objective settled), ITERATION_LIMIT (the cap, with x still
    fractional or slacks left) or NUMERICAL_ERROR (an LP the solver did not solve)."""

    parts: np.ndarray
    iterations: int
    termination: Termination
    failure: str | None = None

    @property
    def converged(self) -> bool:
        return self.termination is Termination.LOCALLY_SOLVED


def partition(
    lp: PartitionLP,
    data: RobustData,
    b: np.ndarray,
    price: float | None,
    settings: PccpSettings,
    options: SolveOptions,
) -> PccpRun:
    """Run penalty CCP from the relaxation; the partition is the largest entry of x per device."""
    c, L = _point_tables(data, b, price)
    finite = np.isfinite(c) & (lp.upper > 0)
    scale = float(np.mean(c[finite])) if finite.any() and np.mean(c[finite]) > 0 else 1.0
    # costs in units of the mean point energy, so that the LP solver's absolute tolerances
    # mean the same at 1e-4 J as at 1 J; a point that cannot meet its deadline costs 1e3
    lp.cost.value = np.where(np.isfinite(c), c / scale, 1e3) * lp.upper
    deadline = np.array([d.deadline for d in data.devices])
    # one-hot x makes Σ_m x_m·sqrt(v_m) equal sqrt(Σ_m x_m v_m): the chance constraint is the
    # linear row Σ_m x_m L_m ≤ D (scaled by 1/D); binarity is the only concave part left
    lp.deadline_coef.value = np.where(np.isfinite(L), L, 1e3) / deadline[:, None] * lp.upper
    lp.deadline_rhs.value = np.ones(len(deadline))
    lp.deadline_weight.value = settings.deadline_weight
    x = lp.upper / lp.upper.sum(axis=1, keepdims=True)  # start from the uniform mixture
    tau = settings.tau0
    previous = np.inf
    for iterations in range(1, settings.max_iterations + 1):
        # tangent of Σ(x − x²) at x: Σ (1 − 2x)·x' + Σ x²  ≤ slack
        lp.binary_coef.value = (1 - 2 * x) * lp.upper
        lp.binary_rhs.value = -(x**2).sum(axis=1)
        lp.tau.value = tau
        out = solve_cvxpy(lp.problem, settings.solver, options)
        if not out.has_solution:
            failure = f"PCCP LP {iterations} not solved ({out.termination.value})"
            return PccpRun(np.argmax(x, axis=1), iterations, Termination.NUMERICAL_ERROR, failure)
        x = np.clip(np.asarray(lp.x.value), 0.0, 1.0) * lp.upper
        slack = float(np.sum(np.asarray(lp.slack_deadline.value)) + np.sum(np.asarray(lp.slack_binary.value)))
        value = float(np.sum(lp.cost.value * x))
        lp.iterations.append(
            {
                "pccp_iteration": iterations,
                "tau": tau,
                "energy": value * scale,
                "slack": slack,
                "max_fraction": float(np.max(np.minimum(x, 1 - x))),
            }
        )
        if slack < settings.tolerance and abs(previous - value) <= settings.tolerance:
            return PccpRun(np.argmax(x, axis=1), iterations, Termination.LOCALLY_SOLVED)
        previous = value
        tau = min(settings.growth * tau, settings.tau_max)
    failure = f"PCCP stopped at its cap of {settings.max_iterations} iterations before settling"
    return PccpRun(np.argmax(x, axis=1), settings.max_iterations, Termination.ITERATION_LIMIT, failure)


def least_bandwidth_partition(data: RobustData) -> np.ndarray:
    """Per device the split point needing the least bandwidth at f_max: a feasible partition
    vector whenever any exists (Σ of those minima ≤ B is exactly the feasibility test)."""
    width = max(d.num_points for d in data.devices)
    sizes = np.array([d.num_points for d in data.devices])
    parts = np.minimum(np.arange(width)[:, None], sizes[None, :] - 1)
    need = _Batch(data, parts).min_bandwidth()
    return np.argmin(need, axis=0)
