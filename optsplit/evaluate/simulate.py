"""Monte Carlo check of a `robust` plan's promise: Pr(latency > D) ≤ ε per device.

Local cycles and server time are drawn independently from several laws with the profiled
mean and variance (Gaussian, gamma, lognormal), plus the worst case for Cantelli: the
two-point law of the total time (μ + kσ w.p. ε, μ − σ/k w.p. 1 − ε), which has the right
mean and variance and reaches the bound. A completion within 1e-9·D of the deadline is
counted as a miss, so that two-point law shows its supremum ε on a tight deadline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from optsplit.evaluate.robust import device_times, shannon_rate
from optsplit.instance.model import Instance

DISTRIBUTIONS = ("gaussian", "gamma", "lognormal", "two-point")


def _draw(law: str, mean: float, var: float, n: int, rng: np.random.Generator) -> np.ndarray:
    if var <= 0 or mean <= 0:
        return np.full(n, mean)
    if law == "gaussian":
        return rng.normal(mean, math.sqrt(var), n)
    if law == "gamma":
        return rng.gamma(mean**2 / var, var / mean, n)
    if law == "lognormal":
        sigma2 = math.log1p(var / mean**2)
        return rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), n)
    raise ValueError(f"unknown distribution '{law}'")


@dataclass
class SimulationReport:
    """Empirical violation rate per device and law, with the allowed ε."""

    samples: int
    rates: dict[str, dict[str, float]]
    epsilon: dict[str, float]

    def tolerance(self, device: str) -> float:
        """ε plus three binomial standard errors."""
        eps = self.epsilon[device]
        return eps + 3 * math.sqrt(eps * (1 - eps) / self.samples)

    def broken(self) -> list[str]:
        return [
            f"device '{d}': {law} violation rate {r:.4f} > epsilon {self.epsilon[d]:.4g}"
            for d, laws in self.rates.items()
            for law, r in laws.items()
            if r > self.tolerance(d)
        ]


def simulate(
    instance: Instance,
    plan: Mapping[str, Any],
    samples: int = 100_000,
    seed: int = 0,
    laws: tuple[str, ...] = DISTRIBUTIONS,
) -> SimulationReport:
    """Draw ``samples`` latencies per device and law; count deadline misses."""
    if instance.robust is None:
        raise ValueError("simulation needs a [robust] instance")
    system = instance.robust
    by_name = {d.name: d for d in system.devices}
    rng = np.random.default_rng(seed)
    rates: dict[str, dict[str, float]] = {}
    for entry in plan["devices"]:
        dev = by_name[entry["name"]]
        m, f, b = int(entry["partition"]), float(entry["frequency"]), float(entry["bandwidth"])
        t = device_times(dev, m)
        rate = shannon_rate(b, dev.tx_power, dev.gain, system.noise_density)
        tx = 0.0 if t.bits == 0 else (t.bits / rate if rate > 0 else math.inf)
        miss_at = dev.deadline * (1 - 1e-9)
        rates[dev.name] = {}
        for law in laws:
            if law == "two-point":
                mu = t.cycles_mean / f + tx + t.server_mean
                sd = math.sqrt(t.cycles_var / f**2 + t.server_var)
                k = math.sqrt((1 - dev.epsilon) / dev.epsilon)
                high = rng.random(samples) < dev.epsilon
                total = np.where(high, mu + k * sd, mu - sd / k)
            else:
                local = _draw(law, t.cycles_mean, t.cycles_var, samples, rng) / f
                server = _draw(law, t.server_mean, t.server_var, samples, rng)
                total = local + tx + server
            rates[dev.name][law] = float(np.mean(total >= miss_at))
    return SimulationReport(samples, rates, {d.name: d.epsilon for d in system.devices})
