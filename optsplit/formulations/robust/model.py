"""Data of a `robust` instance after loading: devices sharing one uplink (SI units)."""

from __future__ import annotations

from dataclasses import dataclass

from optsplit.instance.model import Profile


@dataclass(frozen=True)
class RobustDevice:
    """A mobile device of the `robust` problem: its DNN, clock range, power and radio."""

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


@dataclass(frozen=True)
class RobustSystem:
    """N devices sharing uplink bandwidth (Hz) to one edge server; noise PSD in W/Hz."""

    bandwidth: float
    noise_density: float
    devices: tuple[RobustDevice, ...]
