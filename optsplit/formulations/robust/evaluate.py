"""Energy, latency statistics and the chance constraint of a `robust` plan, from the
instance alone (plain loops over layers; no array or model shared with the solvers)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optsplit.formulations.robust.model import RobustDevice
from optsplit.instance.model import Instance
from optsplit.problem import Evaluation
from optsplit.tolerances import PLAN_RELATIVE

REL_TOL = PLAN_RELATIVE  # a clock, deadline or budget may be overrun by this fraction


@dataclass
class DeviceTimes:
    """Per device: local cycles (mean, variance), server time (mean, variance), bits sent."""

    cycles_mean: float
    cycles_var: float
    server_mean: float
    server_var: float
    bits: float


def device_times(dev: RobustDevice, m: int) -> DeviceTimes:
    """Layers 1..m run locally, m+1..L on the server; each part's variance is the double sum
    of its layers' covariances (the two parts, on different machines, are independent)."""
    cycles_mean = server_mean = 0.0
    local: list[tuple[int, float]] = []  # (layer index, variance) of measured layers
    remote: list[tuple[int, float]] = []
    cycles_scale = dev.local_scale * dev.f_ref
    for j, layer in enumerate(dev.profile.layers):
        if j < m:
            if dev.processor is not None and dev.processor in layer.time:
                t = layer.time[dev.processor]
                cycles_mean += t.mean * cycles_scale
                local.append((j, t.var * cycles_scale**2))
            else:
                cycles_mean += layer.flops / (dev.flops_per_cycle or math.nan)
        elif dev.server_processor is not None and dev.server_processor in layer.time:
            t = layer.time[dev.server_processor]
            server_mean += t.mean * dev.server_scale
            remote.append((j, t.var * dev.server_scale**2))
        else:
            server_mean += layer.flops / (dev.server_speed or math.nan)
    cycles_var = _sum_variance(dev, dev.processor, cycles_scale, local)
    server_var = _sum_variance(dev, dev.server_processor, dev.server_scale, remote)
    layers = dev.profile.layers
    if m == len(layers):
        bits = 0.0
    else:
        bits = 8.0 * (dev.profile.input_bytes if m == 0 else layers[m - 1].output_bytes)
    return DeviceTimes(cycles_mean, cycles_var, server_mean, server_var, bits)


def _sum_variance(
    dev: RobustDevice, processor: str | None, scale: float, parts: list[tuple[int, float]]
) -> float:
    """Var of a sum of layer times: Σ_i Σ_j Cov(t_i, t_j) under the device's correlation rule."""
    table = dev.profile.covariance.get(processor) if processor is not None else None
    if dev.correlation == "comonotone":
        return sum(math.sqrt(v) for _, v in parts) ** 2
    if dev.correlation == "independent" or table is None:
        return sum(v for _, v in parts)
    total = 0.0
    for i, _ in parts:
        for j, _ in parts:
            total += table[i][j] * scale**2
    return max(total, 0.0)


def shannon_rate(
    bandwidth: float, tx_power: float, gain: float, noise_density: float, max_se: float = math.inf
) -> float:
    """b·min(log2(1 + p·g/(N0·b)), η_max), bit/s (N0 includes the receiver's noise figure)."""
    if bandwidth <= 0:
        return 0.0
    return bandwidth * min(math.log2(1.0 + tx_power * gain / (noise_density * bandwidth)), max_se)


def local_stats(dev: RobustDevice, t: DeviceTimes, f: float) -> tuple[float, float, float]:
    """Mean local time, its std and the computing energy at clock f.

    cpu: W/f with W the cycles, energy (κf³ + P_static)·W/f. gpu: the time at f_ref is T, a
    share φ of it fixed, so μ(f) = T·((1 − φ)·f_ref/f + φ), σ(f) = σ_ref·μ(f)/T, energy
    P(f)·μ(f) with P(f) = Σ_k p_k (f/GHz)^k.
    """
    if dev.power is None:
        mean = t.cycles_mean / f
        std = math.sqrt(t.cycles_var) / f
        return mean, std, dev.kappa * t.cycles_mean * f**2 + dev.static_power * t.cycles_mean / f
    scale = (1.0 - dev.insensitive_fraction) * dev.f_ref / f + dev.insensitive_fraction
    mean = t.cycles_mean / dev.f_ref * scale
    std = math.sqrt(t.cycles_var) / dev.f_ref * scale
    watts = 0.0
    for k, p in enumerate(dev.power):
        watts += p * (f / 1e9) ** k
    return mean, std, watts * mean


def evaluate_robust(instance: Instance, plan: Mapping[str, Any]) -> Evaluation:
    """Total expected energy; a violation for every device whose μ + k_ε·σ exceeds D."""
    if instance.section("robust") is None:
        return Evaluation(math.inf, violations=["instance has no [robust] section"])
    system = instance.section("robust")
    by_name = {d.name: d for d in system.devices}
    entries = list(plan.get("devices", []))
    violations: list[str] = []
    names = [e.get("name") for e in entries]
    if sorted(map(str, names)) != sorted(by_name):
        return Evaluation(
            math.inf, violations=[f"plan covers devices {names}, the instance has {sorted(by_name)}"]
        )
    total_energy, total_bw = 0.0, 0.0
    per_device: dict[str, dict[str, float]] = {}
    for e in entries:
        dev = by_name[e["name"]]
        m, f, b = int(e["partition"]), float(e["frequency"]), float(e["bandwidth"])
        depth = len(dev.profile.layers)
        if not 0 <= m <= depth:
            violations.append(f"device '{dev.name}': partition {m} outside 0..{depth}")
            continue
        if not dev.f_min * (1 - REL_TOL) <= f <= dev.f_max * (1 + REL_TOL):
            violations.append(
                f"device '{dev.name}': clock {f:.6g} Hz outside [{dev.f_min:.6g}, {dev.f_max:.6g}]"
            )
        elif dev.clocks is not None and not any(abs(f - c) <= REL_TOL * c for c in dev.clocks):
            violations.append(f"device '{dev.name}': clock {f:.6g} Hz is not in its DVFS table")
        if b < 0:
            violations.append(f"device '{dev.name}': negative bandwidth {b}")
        total_bw += max(b, 0.0)
        t = device_times(dev, m)
        rate = shannon_rate(b, dev.tx_power, dev.gain, system.noise_density, system.max_spectral_efficiency)
        tx = 0.0 if t.bits == 0 else (t.bits / rate if rate > 0 else math.inf)
        local_mean, local_std, compute = local_stats(dev, t, f)
        mean = local_mean + tx + t.server_mean
        std = math.sqrt(local_std**2 + t.server_var)
        k = math.sqrt((1 - dev.epsilon) / dev.epsilon)
        bound = mean + k * std
        energy = compute + dev.tx_power * tx
        total_energy += energy
        per_device[dev.name] = {
            "energy": energy,
            "mean_latency": mean,
            "std_latency": std,
            "cantelli_latency": bound,
            "deadline": dev.deadline,
            "epsilon": dev.epsilon,
            "tx_time": tx,
            "spectral_efficiency": rate / b if b > 0 else 0.0,
        }
        if bound > dev.deadline * (1 + REL_TOL):
            violations.append(
                f"device '{dev.name}': mean {mean * 1e3:.4g} ms + {k:.3g} x std "
                f"{std * 1e3:.4g} ms = {bound * 1e3:.4g} ms > deadline {dev.deadline * 1e3:.4g} ms "
                f"(Pr(T <= D) >= {1 - dev.epsilon:.3g} not guaranteed)"
            )
    if total_bw > system.bandwidth * (1 + REL_TOL):
        violations.append(
            f"bandwidths sum to {total_bw / 1e6:.6g} MHz > B = {system.bandwidth / 1e6:.6g} MHz"
        )
    return Evaluation(
        total_energy, {"energy": total_energy, "bandwidth_used": total_bw, "devices": per_device}, violations
    )
