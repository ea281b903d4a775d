"""Monte Carlo check of a `robust` plan's promise: Pr(latency > D) ≤ ε per device.

Summed laws: local cycles and server time are drawn independently of each other from laws
with the profiled mean and variance of each part (Gaussian, gamma, lognormal; the variance
includes the layers' covariance), plus the worst case for Cantelli: the two-point law of the
total time (μ + kσ w.p. ε, μ − σ/k w.p. 1 − ε), which has the right mean and variance and
reaches the bound. Per-layer laws ('layers-…'): every layer's time is drawn, with the
layers' correlation (`correlation.py`) through a Gaussian copula — correlated standard
normals Z = A·g with AAᵀ the layers' correlation matrix — and Gaussian, gamma or lognormal
marginals of the layer's mean and variance; with Gaussian marginals the draws have exactly
the layers' covariance, with the others the correlation of Z (the copula's, close to it).
A completion within 1e-9·D of the deadline is counted as a miss, so that two-point law
shows its supremum ε on a tight deadline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import gammainccinv, ndtr

from optsplit.formulations.robust.correlation import part_layers
from optsplit.formulations.robust.evaluate import device_times, local_stats, shannon_rate
from optsplit.formulations.robust.model import RobustSystem
from optsplit.instance.model import Instance

if TYPE_CHECKING:
    from distributed import Client

SUMMED = ("gaussian", "gamma", "lognormal", "two-point")
PER_LAYER = ("layers-gaussian", "layers-gamma", "layers-lognormal")
DISTRIBUTIONS = SUMMED + PER_LAYER  # the order fixes each law's random stream
BLOCK = 1_000  # draws per stream block; results do not depend on how blocks are grouped
CHUNK = 1_000_000  # draws per task and per array, so memory stays bounded for any N


def _fill(law: str, mean: float, var: float, rng: np.random.Generator, out: np.ndarray) -> None:
    """Fill ``out`` with draws of ``law`` of the given mean and variance, in place."""
    if var <= 0 or mean <= 0:
        out.fill(mean)
    elif law == "gaussian":
        rng.standard_normal(out=out)
        out *= math.sqrt(var)
        out += mean
    elif law == "gamma":
        rng.standard_gamma(mean**2 / var, out=out)
        out *= var / mean
    elif law == "lognormal":
        sigma2 = math.log1p(var / mean**2)
        rng.standard_normal(out=out)
        out *= math.sqrt(sigma2)
        out += math.log(mean) - sigma2 / 2
        np.exp(out, out=out)
    else:
        raise ValueError(f"unknown distribution '{law}'")


@dataclass(frozen=True, eq=False)
class LayerDraws:
    """The per-layer law of one part: its random layers' means, stds and a factor A of their
    correlation matrix (rows of unit norm), plus the summed time of its constant layers."""

    mean: np.ndarray
    sd: np.ndarray
    factor: np.ndarray | None  # None: independent layers (A = I)
    fixed: float

    def total(self, law: str, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws of the part's time (sum over its layers) under marginal ``law``."""
        if self.mean.size == 0:
            return np.full(size, self.fixed)
        z = rng.standard_normal((size, self.mean.size if self.factor is None else self.factor.shape[1]))
        if self.factor is not None:
            z = z @ self.factor.T
        if law == "gaussian":
            x = self.mean + self.sd * z
        elif law == "lognormal":
            s2 = np.log1p((self.sd / self.mean) ** 2)
            x = np.exp(np.log(self.mean) - s2 / 2 + np.sqrt(s2) * z)
        elif law == "gamma":
            shape, scale = (self.mean / self.sd) ** 2, self.sd**2 / self.mean
            x = scale * gammainccinv(shape, ndtr(-z))  # upper tail from the upper tail of z
        else:
            raise ValueError(f"unknown distribution 'layers-{law}'")
        return np.asarray(x.sum(axis=1) + self.fixed)


def layer_draws(mean: np.ndarray, var: np.ndarray, cov: np.ndarray | None) -> LayerDraws:
    """The copula of a part: layers with positive mean and variance are random, the rest fixed."""
    random = (var > 0) & (mean > 0)
    sd = np.sqrt(var[random])
    factor = None
    if cov is not None and sd.size:
        corr = cov[np.ix_(random, random)] / np.outer(sd, sd)
        w, v = np.linalg.eigh((corr + corr.T) / 2)
        keep = w > 1e-12 * max(float(w[-1]), 0.0)
        factor = v[:, keep] * np.sqrt(w[keep])
        factor /= np.linalg.norm(factor, axis=1, keepdims=True)  # unit variance per layer
    return LayerDraws(mean[random], sd, factor, float(mean[~random].sum()))


@dataclass(frozen=True)
class DeviceLaw:
    """One device of a plan under one law: its time's parts, and when a completion is a miss."""

    device: str
    law: str
    stream: tuple[int, int]  # (device index, law index): the SeedSequence spawn key
    cycles_mean: float
    cycles_var: float
    frequency: float
    transfer: float
    server_mean: float
    server_var: float
    epsilon: float
    miss_at: float
    local_layers: LayerDraws | None = None  # per-layer laws only
    server_layers: LayerDraws | None = None


def count_misses(task: DeviceLaw, seed: int, first: int, last: int, samples: int) -> int:
    """Deadline misses among draws [first, last) x BLOCK (capped at ``samples``) of one device/law.

    Block b draws from the counter-based Philox stream keyed by SeedSequence(seed) spawned
    for (device, law), its counter advanced to b x 2^64 (more than a block ever uses), so
    every block's draws are the same whichever task, chunk or worker produces them. (PCG64
    would not do: its states 2^64 steps apart share their low bits, and their outputs correlate.)
    """
    bits = np.random.Philox(np.random.SeedSequence(seed, spawn_key=task.stream))
    origin = bits.state
    rng = np.random.Generator(bits)
    start = first * BLOCK
    size = min(last * BLOCK, samples) - start
    local, server = np.empty(size), np.empty(size if task.law != "two-point" else 0)
    for block in range(first, last):
        bits.state = origin
        bits.advance(block << 64)
        lo = block * BLOCK - start
        hi = min(lo + BLOCK, size)
        if task.law == "two-point":
            rng.random(out=local[lo:hi])
        elif task.local_layers is not None and task.server_layers is not None:
            marginal = task.law.removeprefix("layers-")
            local[lo:hi] = task.local_layers.total(marginal, rng, hi - lo)
            server[lo:hi] = task.server_layers.total(marginal, rng, hi - lo)
        else:
            _fill(task.law, task.cycles_mean, task.cycles_var, rng, local[lo:hi])
            _fill(task.law, task.server_mean, task.server_var, rng, server[lo:hi])
    if task.law == "two-point":
        # the law of the total time: mu + k sd w.p. epsilon, mu - sd / k otherwise
        mu = task.cycles_mean / task.frequency + task.transfer + task.server_mean
        sd = math.sqrt(task.cycles_var / task.frequency**2 + task.server_var)
        k = math.sqrt((1 - task.epsilon) / task.epsilon)
        high = int(np.count_nonzero(local < task.epsilon))
        return high * (mu + k * sd >= task.miss_at) + (size - high) * (mu - sd / k >= task.miss_at)
    local /= task.frequency
    local += server
    local += task.transfer
    return int(np.count_nonzero(local >= task.miss_at))


@dataclass
class SimulationReport:
    """Empirical violation rate per device and law, with the allowed ε."""

    samples: int
    rates: dict[str, dict[str, float]]
    epsilon: dict[str, float]
    misses: dict[str, dict[str, int]] = field(default_factory=dict)  # counts behind the rates

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
    *,
    chunk: int = CHUNK,
    client: Client | None = None,
) -> SimulationReport:
    """Draw ``samples`` latencies per device and law; count deadline misses.

    Draws are made ``chunk`` at a time (rounded down to whole blocks of BLOCK), so memory is
    bounded whatever ``samples``; with a Dask ``client`` the chunks are mapped over its
    cluster. Counts depend on ``seed`` and ``samples`` only, not on ``chunk`` nor ``client``.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if instance.section("robust") is None:
        raise ValueError("simulation needs a [robust] instance")
    system = instance.section("robust")
    tasks = _device_laws(system, plan, laws)
    blocks = math.ceil(samples / BLOCK)
    step = max(1, chunk // BLOCK)
    jobs = [(task, first, min(first + step, blocks)) for task in tasks for first in range(0, blocks, step)]
    if client is None:
        counts = [count_misses(task, seed, first, last, samples) for task, first, last in jobs]
    else:
        futures = client.map(
            count_misses,
            *zip(*((task, seed, first, last, samples) for task, first, last in jobs)),
            pure=False,
        )
        counts = client.gather(futures)
    misses: dict[str, dict[str, int]] = {}
    for (task, _first, _last), count in zip(jobs, counts):
        device = misses.setdefault(task.device, {})
        device[task.law] = device.get(task.law, 0) + int(count)
    rates = {d: {law: n / samples for law, n in by_law.items()} for d, by_law in misses.items()}
    return SimulationReport(samples, rates, {d.name: d.epsilon for d in system.devices}, misses)


def _device_laws(system: RobustSystem, plan: Mapping[str, Any], laws: tuple[str, ...]) -> list[DeviceLaw]:
    """What to draw for each device of the plan under each law, in plan order."""
    index = {d.name: i for i, d in enumerate(system.devices)}
    tasks = []
    for entry in plan["devices"]:
        i = index[entry["name"]]
        dev = system.devices[i]
        m, f, b = int(entry["partition"]), float(entry["frequency"]), float(entry["bandwidth"])
        t = device_times(dev, m)
        rate = shannon_rate(b, dev.tx_power, dev.gain, system.noise_density, system.max_spectral_efficiency)
        local_mean, local_std, _ = local_stats(dev, t, f)  # drawn as "cycles" (time × f) at f
        tx = 0.0 if t.bits == 0 else (t.bits / rate if rate > 0 else math.inf)
        parts: tuple[LayerDraws | None, LayerDraws | None] = (None, None)
        if any(law in PER_LAYER for law in laws):
            mean, var, cov = part_layers(dev, m, True)
            if dev.power is not None:  # gpu: the "cycles" that give its time a/f + c at f
                phi = dev.insensitive_fraction
                g = ((1.0 - phi) * dev.f_ref / f + phi) * f / dev.f_ref
                mean, var, cov = mean * g, var * g**2, None if cov is None else cov * g**2
            parts = (layer_draws(mean, var, cov), layer_draws(*part_layers(dev, m, False)))
        for law in laws:
            if law not in DISTRIBUTIONS:
                raise ValueError(f"unknown distribution '{law}'")
            per_layer = parts if law in PER_LAYER else (None, None)
            tasks.append(
                DeviceLaw(
                    dev.name,
                    law,
                    (i, DISTRIBUTIONS.index(law)),
                    local_mean * f,
                    (local_std * f) ** 2,
                    f,
                    tx,
                    t.server_mean,
                    t.server_var,
                    dev.epsilon,
                    dev.deadline * (1 - 1e-9),
                    *per_layer,
                )
            )
    return tasks
