"""The full MINLP in Pyomo, for SCIP's global solver (small instances).

One-hot partition x[n, m]; because x is one-hot, Σ_m x·sqrt(v_m(f)) equals sqrt(Σ_m x·v_m(f))
and the chance constraint is linear in x. The transfer time z[n] satisfies
z·R(b) ≥ Σ_m x·bits_m (a nonconvex product SCIP handles); every variable is bounded, as
SCIP requires. The rate r ≤ b·log2(1 + c/b) and r ≤ η_max·b (the spectral-efficiency cap).
A clock table is exact: one binary per (point, entry) pair, with the latency bound and the
computing energy of each pair as constants. A gpu's energy on a range is
Σ_m x_m·Σ_i p_i(a_m·f^(i−1) + c_m·f^i). Units: GHz, MHz, 10⁹ cycles, 10⁶ bits, time in the
longest deadline and energy in ``energy_unit``: SCIP's tolerances are absolute (1e-6), and in
seconds and joules its presolve cut off the optimum of a 16 ms, 35 mJ instance.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo

from optsplit.formulations.robust import kkt
from optsplit.formulations.robust.data import RobustData
from optsplit.formulations.robust.physics import gpu_power, local_energy, robust_latency

GHZ, MHZ, GIGA, MEGA = 1e9, 1e6, 1e9, 1e6
# SCIP 10's second-order-cone handler, on Σ x·sqrt((s/f + q)² + v), cut off the optimum of a
# 2-device AlexNet instance (0.033028 J "optimal" vs 0.031706 J); without it SCIP agreed with
# enumeration on 120 of 120 random instances. A user's solver_options override this.
SCIP_SETTINGS = {"nlhdlr/soc/enabled": False}
MIN_SHARE = 1e-9  # b ≥ MIN_SHARE·B keeps log(1 + c/b) finite; a device sending nothing loses nothing


def time_unit(data: RobustData) -> float:
    """The model's unit of time, s: the longest deadline, so every time lies in [0, 1]."""
    return max(d.deadline for d in data.devices)


def energy_unit(data: RobustData) -> float:
    """The model's unit of energy, J: every device at its highest computing or transmit power
    for its whole deadline, a figure no feasible plan's energy exceeds."""
    total = 0.0
    for d in data.devices:
        f = d.f_max if d.clocks is None else float(d.clocks[-1])
        if d.power is None:
            compute = d.kappa * f**3 + d.static_power
        else:
            compute = float(gpu_power(d.power, np.asarray(f)))
        total += max(compute, d.tx_power) * d.deadline
    return total


def build(data: RobustData) -> pyo.ConcreteModel:
    """The MINLP in the units above; its objective times ``energy_unit(data)`` is joules."""
    m = pyo.ConcreteModel(name="robust")
    devs = data.devices
    T, E = time_unit(data), energy_unit(data)
    m.N = pyo.RangeSet(0, len(devs) - 1)
    m.P = pyo.Set(initialize=[(n, k) for n, d in enumerate(devs) for k in range(d.num_points)], dimen=2)
    B = data.bandwidth / MHZ
    m.x = pyo.Var(m.P, domain=pyo.Binary)
    m.f = pyo.Var(m.N, bounds=lambda _m, n: (devs[n].f_min / GHZ, devs[n].f_max / GHZ))
    m.b = pyo.Var(m.N, bounds=(MIN_SHARE * B, B))
    m.z = pyo.Var(m.N, bounds=lambda _m, n: (0.0, devs[n].deadline / T))
    # rate, Mbit/s, bounded by the rate at the whole band (R is increasing), as SCIP needs
    m.r = pyo.Var(
        m.N,
        bounds=lambda _m, n: (
            0.0,
            B * min(math.log2(1 + devs[n].snr_per_hz / data.bandwidth), devs[n].max_se) * (1 + 1e-9),
        ),
    )

    def rate(n: int) -> pyo.Expression:
        snr = devs[n].snr_per_hz / MHZ
        return m.b[n] * pyo.log(1 + snr / m.b[n]) / math.log(2.0)

    m.one_hot = pyo.Constraint(m.N, rule=lambda _m, n: sum(m.x[n, k] for k in range(devs[n].num_points)) == 1)
    m.shannon = pyo.Constraint(m.N, rule=lambda _m, n: m.r[n] <= rate(n))
    capped = [n for n, d in enumerate(devs) if math.isfinite(d.max_se)]
    m.cap = pyo.Constraint(capped, rule=lambda _m, n: m.r[n] <= devs[n].max_se * m.b[n])
    m.transfer = pyo.Constraint(
        m.N,
        rule=lambda _m, n: (
            m.z[n] * m.r[n]
            >= sum(m.x[n, k] * devs[n].bits[k] / (MEGA * T) for k in range(devs[n].num_points))
        ),
    )
    # a clock table: one binary w per kept (point, entry) pair (kkt.clock_choices drops only
    # pairs another beats), x their sum per point; latency bound and energy are then linear in w
    choices = kkt.clock_choices(data)
    clocks = {n: d.clocks for n, d in enumerate(devs) if d.clocks is not None}
    table = list(clocks)
    m.W = pyo.Set(initialize=[(n, k, j) for n in table for k, j in choices[n]], dimen=3)
    m.w = pyo.Var(m.W, domain=pyo.Binary)
    m.pair = pyo.Constraint(
        [(n, k) for n in table for k in range(devs[n].num_points)],
        rule=lambda _m, n, k: m.x[n, k] == sum(m.w[n, kk, j] for kk, j in choices[n] if kk == k),
    )
    m.table_clock = pyo.Constraint(
        table, rule=lambda _m, n: m.f[n] == sum(m.w[n, k, j] * clocks[n][j] / GHZ for k, j in choices[n])
    )

    def pair_figures(n: int, k: int, j: int) -> tuple[float, float]:
        """μ + kσ without the transfer, and the computing energy, at point k and entry j, in
        the model's units."""
        d, f = devs[n], clocks[n][j]
        bound = robust_latency(
            d.a[k], d.s[k], d.mu_e[k], d.var_e[k], 0.0, f, 1.0, 1.0, d.margin, d.c[k], d.q[k]
        )
        work = local_energy(d.a[k], f, d.kappa, d.static_power, d.c[k], d.power)
        return float(bound) / T, float(work) / E

    def deadline(_m: pyo.ConcreteModel, n: int) -> pyo.Expression:
        d = devs[n]
        if d.clocks is not None:
            pairs = sum(m.w[n, k, j] * pair_figures(n, k, j)[0] for k, j in choices[n])
            return pairs + m.z[n] <= d.deadline / T
        terms = []
        for k in range(d.num_points):
            a, s, q, c = d.a[k] / (GIGA * T), d.s[k] / (GIGA * T), d.q[k] / T, d.c[k] / T
            var_e = d.var_e[k] / T**2
            local = a / m.f[n] + c if a > 0 else 0.0
            fixed = math.sqrt(q**2 + var_e)
            spread = pyo.sqrt((s / m.f[n] + q) ** 2 + var_e) if s > 0 else fixed
            terms.append(m.x[n, k] * (local + d.mu_e[k] / T + d.margin * spread))
        return sum(terms) + m.z[n] <= d.deadline / T

    m.deadline = pyo.Constraint(m.N, rule=deadline)
    m.bandwidth = pyo.Constraint(expr=sum(m.b[n] for n in m.N) <= B)

    def device_energy(n: int) -> pyo.Expression:
        """Computing plus sending energy of device n, in units of E."""
        d = devs[n]
        send = d.tx_power * T / E * m.z[n]
        if d.clocks is not None:
            return sum(m.w[n, k, j] * pair_figures(n, k, j)[1] for k, j in choices[n]) + send
        if d.power is not None:  # P(f)·(a/f + c) = Σ_i p_i(a·f^(i−1) + c·f^i), f in GHz: convex terms
            compute = sum(
                m.x[n, k]
                * sum(
                    p / E * (d.a[k] / GIGA * m.f[n] ** (i - 1) + d.c[k] * m.f[n] ** i)
                    for i, p in enumerate(d.power)
                    if p != 0
                )
                for k in range(d.num_points)
                if d.a[k] > 0
            )
            return compute + send
        kappa = d.kappa * GIGA * GHZ**2 / E
        static = d.static_power * GIGA / GHZ / E
        compute = sum(
            m.x[n, k] * (d.a[k] / GIGA) * (kappa * m.f[n] ** 2 + static / m.f[n])
            for k in range(d.num_points)
            if d.a[k] > 0
        )
        return compute + send

    m.energy = pyo.Objective(expr=sum(device_energy(n) for n in m.N), sense=pyo.minimize)
    return m


def read_plan(
    m: pyo.ConcreteModel, data: RobustData
) -> tuple[list[int], list[float], list[float], list[int]]:
    """Partition point, clock (Hz), bandwidth (Hz) and clock-table index (−1 without a table)
    per device from a solved model."""
    parts, f, b, levels = [], [], [], []
    for n, d in enumerate(data.devices):
        parts.append(max(range(d.num_points), key=lambda k: pyo.value(m.x[n, k])))
        b.append(pyo.value(m.b[n]) * MHZ if d.bits[parts[-1]] > 0 else 0.0)
        if d.clocks is None:
            levels.append(-1)
            f.append(pyo.value(m.f[n]) * GHZ)
        else:
            pairs = [(k, j) for (nn, k, j) in m.W if nn == n]
            levels.append(max(pairs, key=lambda kj: pyo.value(m.w[n, kj[0], kj[1]]))[1])
            f.append(float(d.clocks[levels[-1]]))
    return parts, f, b, levels
