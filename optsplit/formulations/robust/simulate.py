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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from optsplit.formulations.robust.evaluate import device_times, local_stats, shannon_rate
from optsplit.formulations.robust.model import RobustSystem
from optsplit.instance.model import Instance

if TYPE_CHECKING:
    from distributed import Client

DISTRIBUTIONS = ("gaussian", "gamma", "lognormal", "two-point")
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
        for law in laws:
            if law not in DISTRIBUTIONS:
                raise ValueError(f"unknown distribution '{law}'")
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
                )
            )
    return tasks
