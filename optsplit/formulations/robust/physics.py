"""The robust model's formulas, vectorised: rate, local clock needed, energy, latency bound.

All functions broadcast over numpy arrays, so one call evaluates many devices, partition
points or partition vectors at once.
"""

from __future__ import annotations

import numpy as np

LN2 = np.log(2.0)


def rate(b: np.ndarray, snr_per_hz: np.ndarray) -> np.ndarray:
    """Shannon rate b·log2(1 + p·g/(N0·b)), bit/s; 0 at b = 0."""
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = b * np.log1p(snr_per_hz / b) / LN2
    return np.where(b > 0, r, 0.0)


def tx_time(bits: np.ndarray, b: np.ndarray, snr_per_hz: np.ndarray) -> np.ndarray:
    """bits / R(b); 0 when nothing is sent, inf when bits > 0 and b = 0."""
    r = rate(b, snr_per_hz)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = bits / r
    return np.where(bits > 0, np.where(r > 0, t, np.inf), 0.0)


def inverse_clock_needed(
    a: np.ndarray, s: np.ndarray, var_e: np.ndarray, k: np.ndarray, budget: np.ndarray
) -> np.ndarray:
    """Largest u = 1/f with a·u + k·sqrt(s²u² + var_e) ≤ budget (NaN if none, inf if any u).

    h(u) = a·u + k·sqrt(s²u² + var_e) is increasing, so the answer is the root of
    h(u) = budget: (budget − a·u)² = k²(s²u² + var_e) with budget − a·u ≥ 0.
    """
    a, s, var_e, k, budget = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (a, s, var_e, k, budget))
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        A = k**2 * s**2 - a**2
        B = 2 * a * budget
        C = k**2 * var_e - budget**2
        disc = np.sqrt(np.maximum(B**2 - 4 * A * C, 0.0))
        # the root with budget − a·u ≥ 0: numerically stable form of (−B + disc)/(2A)
        quad = np.where(np.abs(A) > 1e-300, 2 * (-C) / (B + disc), -C / B)
        linear_only = budget / a  # k·s = 0 and var_e = 0
    u = np.where((k * s == 0) & (k**2 * var_e == 0), linear_only, quad)
    no_local = (a == 0) & (s == 0)
    feasible = k * np.sqrt(var_e) <= budget * (1 + 1e-12)
    u = np.where(no_local, np.inf, u)
    return np.where(feasible & (budget > 0) | no_local & feasible, u, np.nan)


def robust_latency(a, s, mu_e, var_e, bits, f, b, snr_per_hz, k) -> np.ndarray:
    """μ + k·σ of the total time (the Cantelli form of the chance constraint)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        local = np.where(a > 0, a / f, 0.0)
        spread = np.sqrt(np.where(s > 0, (s / f) ** 2, 0.0) + var_e)
    return local + tx_time(bits, b, snr_per_hz) + mu_e + k * spread


def energy(a, bits, f, b, kappa, static_power, tx_power, snr_per_hz) -> np.ndarray:
    """Expected device energy: κ·a·f² + P_static·a/f (computing) + p·bits/R(b) (sending)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        compute = np.where(a > 0, kappa * a * f**2 + static_power * a / f, 0.0)
    return compute + tx_power * tx_time(bits, b, snr_per_hz)
