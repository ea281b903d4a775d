"""Accuracy surrogate a(s, ρ) after a fraction ρ of split s's feature packets has arrived.

Form (per split s): a(s, ρ) = a_max(s) − (a_max(s) − a_0) · exp(−β_s ρ), with a_0 the
chance accuracy (nothing received). It is increasing and concave in ρ for β_s > 0 and
a_max ≥ a_0, which the outer convex step needs. β_s and a_max(s) are fitted by least squares
to a shipped table of (fraction, accuracy) points; the device-only split has the full model's
accuracy whatever ρ (nothing is sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# β grid of the fit: log-spaced, then refined by golden section around the best grid point.
BETA_GRID = np.geomspace(0.05, 200.0, 400)
GOLDEN_STEPS = 60


@dataclass(frozen=True)
class Surrogate:
    """Fitted a(s, ρ) per candidate split (arrays indexed by split)."""

    a0: np.ndarray
    amax: np.ndarray
    beta: np.ndarray
    rmse: np.ndarray  # fit residual per split (0 for the device-only split)

    def value(self, split: np.ndarray, rho: np.ndarray) -> np.ndarray:
        """a(s, ρ), vectorised (``split`` and ``rho`` broadcast)."""
        rho = np.clip(rho, 0.0, 1.0)
        return self.amax[split] - (self.amax[split] - self.a0[split]) * np.exp(-self.beta[split] * rho)

    def fraction_for(self, split: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Smallest ρ ∈ [0, 1] with a(s, ρ) ≥ target; inf when even ρ = 1 falls short."""
        split, target = np.broadcast_arrays(np.asarray(split), np.asarray(target, float))
        a0, amax, beta = self.a0[split], self.amax[split], self.beta[split]
        span = amax - a0
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = -np.log((amax - target) / span) / beta
        rho = np.where(target <= a0, 0.0, rho)
        rho = np.where(np.isnan(rho) | (target >= amax), np.inf, rho)
        rho = np.where((span <= 0) & (target <= amax), 0.0, rho)
        reach = self.value(split, np.ones_like(target))
        return np.where(target > reach, np.inf, np.clip(rho, 0.0, 1.0))


def _fit_one(fraction: np.ndarray, accuracy: np.ndarray, a0: float) -> tuple[float, float, float]:
    """(a_max, β, rmse) minimising Σ (a(ρ_i) − acc_i)² with a_0 fixed."""
    y = accuracy - a0

    def best_amp(beta: float) -> tuple[float, float]:
        x = 1.0 - np.exp(-beta * fraction)
        denom = float(x @ x)
        amp = max(float(x @ y) / denom, 0.0) if denom > 0 else 0.0
        return amp, float(np.sum((amp * x - y) ** 2))

    errors = np.array([best_amp(b)[1] for b in BETA_GRID])
    i = int(np.argmin(errors))
    lo, hi = np.log(BETA_GRID[max(i - 1, 0)]), np.log(BETA_GRID[min(i + 1, BETA_GRID.size - 1)])
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(GOLDEN_STEPS):
        m1, m2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if best_amp(float(np.exp(m1)))[1] <= best_amp(float(np.exp(m2)))[1]:
            hi = m2
        else:
            lo = m1
    beta = float(np.exp((lo + hi) / 2.0))
    amp, sse = best_amp(beta)
    return a0 + amp, beta, float(np.sqrt(sse / fraction.size))


def fit(
    series: Sequence[tuple[np.ndarray, np.ndarray] | None], chance: float, full_accuracy: float
) -> Surrogate:
    """Fit every split's series; ``None`` marks the device-only split (constant full accuracy)."""
    a0, amax, beta, rmse = [], [], [], []
    for item in series:
        if item is None:
            a0.append(full_accuracy)
            amax.append(full_accuracy)
            beta.append(1.0)
            rmse.append(0.0)
            continue
        top, b, err = _fit_one(item[0], item[1], chance)
        a0.append(chance)
        amax.append(top)
        beta.append(b)
        rmse.append(err)
    arrays = [np.array(v, float) for v in (a0, amax, beta, rmse)]
    for a in arrays:
        a.setflags(write=False)
    return Surrogate(*arrays)
