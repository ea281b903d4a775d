"""Convex resource allocation for fixed partitions, as a DPP-compliant CVXPY problem.

Built once per instance and re-solved with new partition parameters (CVXPY caches the
canonicalisation). Every quantity is in units of the instance, so that the conic solver
sees numbers near 1 whatever the instance's magnitudes (bandwidths from 1e5 to 1e15 Hz):
clocks as fractions of f_max; each device's bandwidth in units of u = min(p·g/N0, B/N), the
bandwidth at which its link leaves the power-limited regime, or its equal share when that is
smaller; times in units of the device's deadline; energy in units of the partition's energy
at f_max with equal shares. The rate uses the exponential cone through
b·log(1 + c/b) = −rel_entr(b, b + c), capped by r ≤ η_max·b; the std term is
‖(s/f + q, σ_e)‖₂ (q = 0 on a CPU), so the problem is DCP.

A gpu device's energy P(f)·(a/f + c) = Σ_k p_k(a·f^(k−1) + c·f^k) is convex in f because the
section admits only coefficients p_k ≥ 0; those terms are added only when the instance has a
gpu, so a cpu-only instance builds the same problem as before. A clock table is relaxed to
its range [lowest, highest entry]; `kkt.settle` then puts each device on a table entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np

from optsplit.formulations.robust.data import RobustData
from optsplit.formulations.robust.physics import energy
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import get_backend

LN2 = float(np.log(2.0))
GHZ = 1e9


@dataclass
class AllocationProblem:
    """The CVXPY problem, its parameters (one entry per device) and the units it works in."""

    problem: cp.Problem
    phi: cp.Variable  # f / f_max
    beta: cp.Variable  # b / unit
    local: cp.Parameter  # mean local time at f_max, in deadlines
    spread_local: cp.Parameter  # its std at f_max, in deadlines
    server: cp.Parameter  # mean server time, in deadlines
    spread_server: cp.Parameter  # its std, in deadlines
    bits: cp.Parameter  # bits / (unit · deadline)
    dynamic: cp.Parameter  # κ·a·f_max² / E0
    static: cp.Parameter  # P_static·a / (f_max·E0)
    transmit: cp.Parameter  # p·deadline / E0
    unit: np.ndarray  # bandwidth unit per device, Hz
    bandwidth: float  # B, Hz
    f_max: np.ndarray
    deadline: np.ndarray
    fixed_local: cp.Parameter | None = None  # gpu: clock-insensitive mean time, in deadlines
    fixed_spread: cp.Parameter | None = None  # gpu: clock-insensitive std, in deadlines
    gpu_terms: list[tuple[int, cp.Parameter, cp.Parameter]] | None = None  # (k, a-part, c-part)
    energy_unit: float = 1.0  # E0, J
    backend: Any = "cvxpy-clarabel"  # a registered back-end name or a Backend object (CVXPY kind)

    def set_partition(self, data: RobustData, parts: np.ndarray) -> None:
        """Load one partition vector's figures into the parameters (the problem is not rebuilt)."""
        devs = data.devices

        def at(attr: str) -> np.ndarray:
            return np.array([getattr(d, attr)[m] for d, m in zip(devs, parts)], dtype=float)

        def const(attr: str) -> np.ndarray:
            return np.array([getattr(d, attr) for d in devs], dtype=float)

        a, s, mu_e, var_e, bits = at("a"), at("s"), at("mu_e"), at("var_e"), at("bits")
        kappa, static, tx_power = const("kappa"), const("static_power"), const("tx_power")
        c, q = at("c"), at("q")
        share = np.full(len(devs), data.bandwidth / len(devs))
        e0 = float(
            sum(
                energy(
                    a[i],
                    bits[i],
                    d.f_max,
                    share[i],
                    d.kappa,
                    d.static_power,
                    d.tx_power,
                    d.snr_per_hz,
                    c[i],
                    d.power,
                    d.max_se,
                )
                for i, d in enumerate(devs)
            )
        )
        self.energy_unit = e0 if np.isfinite(e0) and e0 > 0 else 1.0
        t_unit = self.f_max * self.deadline
        self.local.value = a / t_unit
        self.spread_local.value = s / t_unit
        self.server.value = mu_e / self.deadline
        self.spread_server.value = np.sqrt(var_e) / self.deadline
        self.bits.value = bits / (self.unit * self.deadline)
        self.dynamic.value = kappa * a * self.f_max**2 / self.energy_unit
        self.static.value = static * a / self.f_max / self.energy_unit
        self.transmit.value = tx_power * self.deadline / self.energy_unit
        if self.fixed_local is not None and self.fixed_spread is not None and self.gpu_terms is not None:
            self.fixed_local.value = c / self.deadline
            self.fixed_spread.value = q / self.deadline
            for k, a_part, c_part in self.gpu_terms:
                p = np.array([0.0 if d.power is None or k >= d.power.size else d.power[k] for d in devs])
                scale = p * (self.f_max / GHZ) ** k / self.energy_unit
                a_part.value = scale * a / self.f_max
                c_part.value = scale * c


def build(data: RobustData) -> AllocationProblem:
    d = data.devices
    n = len(d)

    def const(attr: str) -> np.ndarray:
        return np.array([getattr(x, attr) for x in d], dtype=float)

    f_max, deadline, snr = const("f_max"), const("deadline"), const("snr_per_hz")
    unit = np.minimum(snr, data.bandwidth / n)
    phi = cp.Variable(n, name="f_over_fmax")
    beta = cp.Variable(n, nonneg=True, name="b_over_unit")
    rate = cp.Variable(n, nonneg=True, name="rate_over_unit")
    tx = cp.Variable(n, nonneg=True, name="tx_over_deadline")
    params = [cp.Parameter(n, nonneg=True) for _ in range(8)]
    local, spread_local, server, spread_server, bits, dynamic, static, transmit = params
    inv_phi = cp.inv_pos(phi)
    gpu = any(x.power is not None for x in d)
    fixed_local = cp.Parameter(n, nonneg=True) if gpu else None
    fixed_spread = cp.Parameter(n, nonneg=True) if gpu else None
    local_std = [
        spread_local[i] * inv_phi[i] + (0 if fixed_spread is None else fixed_spread[i]) for i in range(n)
    ]
    spread = cp.hstack([cp.norm(cp.hstack([local_std[i], spread_server[i]])) for i in range(n)])
    local_time = cp.multiply(local, inv_phi) + (0 if fixed_local is None else fixed_local)
    cap = const("max_se")
    constraints = [
        phi >= const("f_min") / f_max,
        phi <= 1,
        rate <= -cp.rel_entr(beta, beta + snr / unit) / LN2,
        tx >= cp.multiply(bits, cp.inv_pos(rate)),
        local_time + tx + server + cp.multiply(const("margin"), spread) <= 1,
    ]
    if np.isfinite(cap).any():
        capped = np.isfinite(cap)
        constraints.append(rate[capped] <= cp.multiply(cap[capped], beta[capped]))
    constraints.append(cp.sum(cp.multiply(unit / data.bandwidth, beta)) <= 1)  # last: its dual is read
    objective = cp.sum(
        cp.multiply(dynamic, cp.square(phi)) + cp.multiply(static, inv_phi) + cp.multiply(transmit, tx)
    )
    gpu_terms = None
    if gpu:
        gpu_terms = []
        degree = max(x.power.size for x in d if x.power is not None)
        for k in range(degree):
            a_part, c_part = cp.Parameter(n, nonneg=True), cp.Parameter(n, nonneg=True)
            gpu_terms.append((k, a_part, c_part))
            objective += cp.sum(cp.multiply(a_part, _phi_power(phi, inv_phi, k - 1)))
            objective += cp.sum(cp.multiply(c_part, _phi_power(phi, inv_phi, k)))
    problem = cp.Problem(cp.Minimize(objective), constraints)
    return AllocationProblem(
        problem,
        phi,
        beta,
        local,
        spread_local,
        server,
        spread_server,
        bits,
        dynamic,
        static,
        transmit,
        unit,
        data.bandwidth,
        f_max,
        deadline,
        fixed_local=fixed_local,
        fixed_spread=fixed_spread,
        gpu_terms=gpu_terms,
    )


def _phi_power(phi: cp.Variable, inv_phi: cp.Expression, k: int) -> cp.Expression | np.ndarray:
    """φ^k for k ≥ −1, convex on φ > 0 (k = 0 gives ones; a constant in the objective)."""
    if k == -1:
        return inv_phi
    if k == 0:
        return np.ones(phi.shape)
    if k == 1:
        return phi
    return cp.power(phi, k)


def solve(
    ap: AllocationProblem, options: SolveOptions
) -> tuple[Outcome, np.ndarray | None, np.ndarray | None, float | None]:
    """Solve on the problem's back-end; returns the outcome (objective and bound in J), f and b
    in Hz, and the bandwidth price in J/Hz (the dual of Σ b ≤ B)."""
    backend = get_backend(ap.backend) if isinstance(ap.backend, str) else ap.backend
    out = backend.solve(ap.problem, options)
    for attr in ("objective", "bound"):
        value = getattr(out, attr)
        if value is not None:
            setattr(out, attr, value * ap.energy_unit)
    if not out.has_solution:
        return out, None, None, None
    f = np.asarray(ap.phi.value, dtype=float) * ap.f_max
    b = np.maximum(np.asarray(ap.beta.value, dtype=float), 0.0) * ap.unit
    dual = ap.problem.constraints[-1].dual_value
    price = None if dual is None else max(float(dual), 0.0) * ap.energy_unit / ap.bandwidth
    return out, f, b, price
