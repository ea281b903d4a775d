"""The robust model's formulas, vectorised: rate, local clock needed, energy, latency bound.

All functions broadcast over numpy arrays, so one call evaluates many devices, partition
points or partition vectors at once. Local time is a/f + c with std s/f + q (c = q = 0 on a
CPU); a GPU's power is the polynomial Σ_k power[k]·(f/GHz)^k, a CPU's κf³ + P_static.
"""

from __future__ import annotations

import numpy as np

LN2 = np.log(2.0)
GHZ = 1e9
INVPHI = (np.sqrt(5.0) - 1.0) / 2.0
CLOCK_GOLDEN_STEPS = 90  # the energy-minimising clock to 1e-18 of the clock range


def rate(b: np.ndarray, snr_per_hz: np.ndarray, max_se: np.ndarray | float = np.inf) -> np.ndarray:
    """Capped Shannon rate b·min(log2(1 + p·g/(N0·b)), η_max), bit/s; 0 at b = 0."""
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = b * np.minimum(np.log1p(snr_per_hz / b) / LN2, max_se)
    return np.where(b > 0, r, 0.0)


def tx_time(
    bits: np.ndarray, b: np.ndarray, snr_per_hz: np.ndarray, max_se: np.ndarray | float = np.inf
) -> np.ndarray:
    """bits / R(b); 0 when nothing is sent, inf when bits > 0 and b = 0."""
    r = rate(b, snr_per_hz, max_se)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = bits / r
    return np.where(bits > 0, np.where(r > 0, t, np.inf), 0.0)


def inverse_clock_needed(
    a: np.ndarray,
    s: np.ndarray,
    var_e: np.ndarray,
    k: np.ndarray,
    budget: np.ndarray,
    q: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Largest u = 1/f with a·u + k·sqrt((s·u + q)² + var_e) ≤ budget (NaN if none, inf if any u).

    h(u) = a·u + k·sqrt((s·u + q)² + var_e) is increasing, so the answer is the root of
    h(u) = budget: (budget − a·u)² = k²((s·u + q)² + var_e) with budget − a·u ≥ 0.
    """
    a, s, var_e, k, budget, q = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (a, s, var_e, k, budget, q))
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fixed = q**2 + var_e  # variance that no clock removes
        A = k**2 * s**2 - a**2
        B = 2 * a * budget + 2 * k**2 * s * q
        C = k**2 * fixed - budget**2
        disc = np.sqrt(np.maximum(B**2 - 4 * A * C, 0.0))
        # the root with budget − a·u ≥ 0: numerically stable form of (−B + disc)/(2A)
        quad = np.where(np.abs(A) > 1e-300, 2 * (-C) / (B + disc), -C / B)
        linear_only = budget / a  # k·s = 0 and no fixed variance
    u = np.where((k * s == 0) & (k**2 * fixed == 0), linear_only, quad)
    no_local = (a == 0) & (s == 0)
    feasible = k * np.sqrt(fixed) <= budget * (1 + 1e-12)
    u = np.where(no_local, np.inf, u)
    return np.where(feasible & (budget > 0) | no_local & feasible, u, np.nan)


def robust_latency(a, s, mu_e, var_e, bits, f, b, snr_per_hz, k, c=0.0, q=0.0, max_se=np.inf) -> np.ndarray:
    """μ + k·σ of the total time (the Cantelli form of the chance constraint)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        local = np.where(a > 0, a / f + c, 0.0)
        local_std = np.where(s > 0, s / f, 0.0) + q
        spread = np.sqrt(local_std**2 + var_e)
    return local + tx_time(bits, b, snr_per_hz, max_se) + mu_e + k * spread


def gpu_power(power: np.ndarray, f: np.ndarray) -> np.ndarray:
    """P(f) = Σ_k power[k]·(f/GHz)^k, W; ``power`` has the coefficients on its first axis."""
    x = np.asarray(f, dtype=float) / GHZ
    total = np.zeros(np.broadcast_shapes(np.shape(power[0]), x.shape))
    for coef in power[::-1]:  # Horner
        total = total * x + coef
    return total


def local_energy(a, f, kappa, static_power, c=0.0, power=None) -> np.ndarray:
    """Expected computing energy: κ·a·f² + P_static·a/f (cpu) or P(f)·(a/f + c) (gpu)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if power is None:
            return np.where(a > 0, kappa * a * f**2 + static_power * a / f, 0.0)
        return np.where(a > 0, gpu_power(power, f) * (a / f + c), 0.0)


def energy(
    a, bits, f, b, kappa, static_power, tx_power, snr_per_hz, c=0.0, power=None, max_se=np.inf
) -> np.ndarray:
    """Expected device energy: computing (``local_energy``) + p·bits/R(b) (sending)."""
    compute = local_energy(a, f, kappa, static_power, c, power)
    return compute + tx_power * tx_time(bits, b, snr_per_hz, max_se)


def gpu_energy_clock(a, c, power, f_min, f_max) -> np.ndarray:
    """Clock minimising P(f)·(a/f + c) on [f_min, f_max] by golden section: with coefficients
    ≥ 0 every term (a·f^(k−1), c·f^k) is convex on f > 0, so the minimum is unique."""
    lo, hi = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (f_min, f_max)))
    lo, hi = lo.copy(), hi.copy()

    def e(f: np.ndarray) -> np.ndarray:
        return gpu_power(power, f) * (a / f + c)

    x1, x2 = hi - INVPHI * (hi - lo), lo + INVPHI * (hi - lo)
    e1, e2 = e(x1), e(x2)
    for _ in range(CLOCK_GOLDEN_STEPS):
        left = e1 <= e2
        hi, lo = np.where(left, x2, hi), np.where(left, lo, x1)
        new1 = np.where(left, hi - INVPHI * (hi - lo), x2)
        new2 = np.where(left, x1, lo + INVPHI * (hi - lo))
        fresh = e(np.where(left, new1, new2))
        e1, e2 = np.where(left, fresh, e2), np.where(left, e1, fresh)
        x1, x2 = new1, new2
    best = 0.5 * (lo + hi)
    # the minimiser may be an end of the range
    ends = np.where(e(f_min) <= e(f_max), f_min, f_max)
    return np.where(e(ends) <= e(best), ends, best)
