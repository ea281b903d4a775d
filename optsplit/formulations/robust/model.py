"""Data of a `robust` instance after loading: devices sharing one uplink (SI units)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from optsplit.instance.model import Profile


@dataclass(frozen=True)
class RobustDevice:
    """A mobile device of the `robust` problem: its DNN, clock range, power and radio.

    ``processor_model`` 'cpu': local time W/f, power κf³ + P_static. 'gpu': local time
    a/f + c with the fraction ``insensitive_fraction`` of the time at f_ref not scaling with
    the clock, power the polynomial Σ power[k]·(f/GHz)^k (W). ``clocks``: a discrete DVFS table
    (Hz, ascending); f_min and f_max are then its ends.
    """

    name: str
    profile: Profile
    f_min: float
    f_max: float
    f_ref: float
    kappa: float
    tx_power: float
    gain: float
    deadline: float
    epsilon: float
    processor: str | None = None
    server_processor: str | None = None
    local_scale: float = 1.0
    server_scale: float = 1.0
    flops_per_cycle: float | None = None
    server_speed: float | None = None
    static_power: float = 0.0
    correlation: str = "measured"  # of layer times: measured (covariance), independent, comonotone
    processor_model: str = "cpu"
    clocks: tuple[float, ...] | None = None
    insensitive_fraction: float = 0.0
    power: tuple[float, ...] | None = None


@dataclass(frozen=True)
class RobustSystem:
    """N devices sharing uplink bandwidth (Hz) to one edge server; noise PSD in W/Hz at the
    receiver (thermal density times the noise figure); spectral efficiency capped at
    ``max_spectral_efficiency`` bit/s/Hz (the highest modulation and coding scheme)."""

    bandwidth: float
    noise_density: float
    devices: tuple[RobustDevice, ...]
    max_spectral_efficiency: float = math.inf
