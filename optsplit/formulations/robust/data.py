"""Numeric data of the `robust` problem: per device and partition point m = 0..L,
the local work (cycles, mean and std), the server time (mean, variance) and the bits sent.

Local time at clock f is W/f with a random cycle count W (mean a[m], std s[m]), the CPU
DVFS model. The variance of a prefix (suffix) of layers is the sum of its block of the
layers' covariance (`correlation.py`): the variances' sum when layers are independent.
Measured times t at the reference clock f_ref give cycles t·f_ref. A GPU's time is a/f + c:
the share φ (insensitive_fraction) of its time at f_ref does not scale with the clock
(c = φ·t), the rest does (a = (1 − φ)·t·f_ref); its std scales like its mean,
σ(f) = σ(f_ref)·μ(f)/μ(f_ref) = s/f + q. A CPU has c = q = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from statistics import NormalDist

import numpy as np

from optsplit.errors import InputError
from optsplit.formulations.robust.correlation import layer_covariance, prefix_variances, suffix_variances
from optsplit.formulations.robust.model import RobustDevice
from optsplit.instance.model import Instance


def cantelli_factor(epsilon: float) -> float:
    """k with Pr(T ≤ μ + kσ) ≥ 1 − ε for every law of mean μ and std σ (one-sided Chebyshev)."""
    return math.sqrt((1.0 - epsilon) / epsilon)


def gaussian_factor(epsilon: float) -> float:
    """k = Φ⁻¹(1 − ε): right only if the time is Gaussian."""
    return NormalDist().inv_cdf(1.0 - epsilon)


@dataclass
class DeviceData:
    """Arrays over partition points m = 0..L (m layers on the device, the rest on the server)."""

    name: str
    a: np.ndarray  # mean local cycles
    s: np.ndarray  # std of local cycles
    mu_e: np.ndarray  # mean server time, s
    var_e: np.ndarray  # server time variance, s²
    bits: np.ndarray  # bits sent to the server (0 for m = L)
    f_min: float
    f_max: float
    kappa: float
    static_power: float
    tx_power: float
    snr_per_hz: float  # p·g / N0: R(b) = b·log2(1 + snr_per_hz / b)
    deadline: float
    epsilon: float
    margin: float  # k in μ + kσ ≤ D
    c: np.ndarray = field(default_factory=lambda: np.zeros(0))  # clock-insensitive mean time, s
    q: np.ndarray = field(default_factory=lambda: np.zeros(0))  # clock-insensitive std, s
    power: np.ndarray | None = None  # gpu: W per (f/GHz)^k, ascending; None: cpu (kappa, static)
    clocks: np.ndarray | None = None  # discrete DVFS table, Hz, ascending; None: [f_min, f_max]
    max_se: float = math.inf  # spectral-efficiency cap, bit/s/Hz

    def __post_init__(self) -> None:
        if self.c.size == 0:
            self.c = np.zeros_like(self.a)
        if self.q.size == 0:
            self.q = np.zeros_like(self.a)

    @property
    def num_points(self) -> int:
        return int(self.a.size)


@dataclass
class RobustData:
    """Everything the robust models need; ``margin_rule`` records how k was chosen."""

    instance: Instance
    bandwidth: float
    devices: list[DeviceData]
    margin_rule: str = "cantelli"

    def with_margin(self, rule: str) -> RobustData:
        """The same data with k from another rule: 'cantelli', 'gaussian' or 'mean' (k = 0)."""
        factor = {"cantelli": cantelli_factor, "gaussian": gaussian_factor, "mean": lambda _e: 0.0}[rule]
        return replace(
            self, devices=[replace(d, margin=factor(d.epsilon)) for d in self.devices], margin_rule=rule
        )


def _device(dev: RobustDevice, noise: float, max_se: float) -> DeviceData:
    layers = dev.profile.layers
    local_mean, local_var, server_mean, server_var = [], [], [], []
    for layer in layers:
        if dev.processor is not None and dev.processor in layer.time:
            t = layer.time[dev.processor]
            local_mean.append(t.mean * dev.local_scale * dev.f_ref)
            local_var.append(t.var * (dev.local_scale * dev.f_ref) ** 2)
        else:
            assert dev.flops_per_cycle is not None  # the loader checked
            local_mean.append(layer.flops / dev.flops_per_cycle)
            local_var.append(0.0)
        if dev.server_processor is not None and dev.server_processor in layer.time:
            t = layer.time[dev.server_processor]
            server_mean.append(t.mean * dev.server_scale)
            server_var.append(t.var * dev.server_scale**2)
        else:
            assert dev.server_speed is not None
            server_mean.append(layer.flops / dev.server_speed)
            server_var.append(0.0)
    zero = np.zeros(1)
    a = np.concatenate([zero, np.cumsum(local_mean)])
    lv, sv = np.array(local_var), np.array(server_var)
    var_loc = prefix_variances(lv, layer_covariance(dev, dev.processor, dev.local_scale * dev.f_ref, lv))
    mu_e = np.concatenate([np.cumsum(server_mean[::-1])[::-1], zero])
    var_e = suffix_variances(sv, layer_covariance(dev, dev.server_processor, dev.server_scale, sv))
    bits = 8.0 * dev.profile.tensor_bytes()
    bits[-1] = 0.0  # all local: nothing is sent
    s = np.sqrt(var_loc)
    phi = dev.insensitive_fraction  # 0 for a cpu
    c, q = phi * a / dev.f_ref, phi * s / dev.f_ref
    a, s = (1.0 - phi) * a, (1.0 - phi) * s
    return DeviceData(
        dev.name,
        a,
        s,
        mu_e,
        var_e,
        bits,
        dev.f_min,
        dev.f_max,
        dev.kappa,
        dev.static_power,
        dev.tx_power,
        dev.tx_power * dev.gain / noise,
        dev.deadline,
        dev.epsilon,
        cantelli_factor(dev.epsilon),
        c,
        q,
        None if dev.power is None else np.array(dev.power, dtype=float),
        None if dev.clocks is None else np.array(dev.clocks, dtype=float),
        max_se,
    )


def prepare(instance: Instance) -> RobustData:
    if instance.section("robust") is None:
        raise InputError(
            "the robust formulation needs a [robust] section", source=instance.source, path="robust"
        )
    sys_ = instance.section("robust")
    return RobustData(
        instance,
        sys_.bandwidth,
        [_device(d, sys_.noise_density, sys_.max_spectral_efficiency) for d in sys_.devices],
    )
