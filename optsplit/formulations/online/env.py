"""The random environment of a horizon, reproducible from (seed, frame) alone.

Per frame: block fading per slot and device (|h|² ~ Exp(1), Rayleigh amplitude, times the
path-loss mean), one sample per device with difficulty u ~ U(0, 1) and a calibration error ξ
of the server's uncertainty. A sample split at s is classified correctly once
a(s, k/K(s)) ≥ u (so the population accuracy after k packets is the surrogate itself);
the server's uncertainty after k packets is η_k = u·exp(σξ) / a(s, k/K(s)), and an
early-stopping policy stops when η_k ≤ θ. Draws depend on (seed, frame) only, so the
simulator, the evaluator and the offline bound see the same world in any order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import OnlineData


@dataclass(frozen=True)
class Draws:
    """One frame's randomness: gains (slots × devices), difficulty and calibration error."""

    gain: np.ndarray  # (T, N) channel power gain |h|² × path loss
    difficulty: np.ndarray  # (N,) u
    calibration: np.ndarray  # (N,) exp(σ ξ)


def draw(data: OnlineData, seed: int, frame: int) -> Draws:
    """The frame's draws; a function of (seed, frame) and the instance's sizes only."""
    rng = np.random.default_rng([seed, frame])
    fading = rng.exponential(1.0, size=(data.slots, data.n))
    u = rng.random(data.n)
    xi = rng.standard_normal(data.n)
    return Draws(fading * data.gain[None, :], u, np.exp(data.uncertainty_noise * xi))


def stop_packets(data: OnlineData, split: np.ndarray, draws: Draws) -> np.ndarray:
    """Packets after which the uncertainty first drops to θ (K(s)+1 when it never does)."""
    target = np.minimum(draws.difficulty * draws.calibration / data.threshold, 2.0)
    rho = data.surrogate.fraction_for(split, target)
    k = data.packets[split]
    finite = np.isfinite(rho)
    need = np.ceil(np.where(finite, rho, 0.0) * k - 1e-9)
    return np.where(finite, need, k + 1).astype(np.int64)


def correct(data: OnlineData, split: np.ndarray, received: np.ndarray, draws: Draws) -> np.ndarray:
    """Whether each device's sample is classified correctly from ``received`` packets."""
    k = np.maximum(data.packets[split], 1)
    return draws.difficulty <= data.surrogate.value(split, received / k)
