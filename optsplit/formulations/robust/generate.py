"""Random `robust` instances: N Jetson-class devices on one measured profile (seeded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from optsplit.errors import InputError
from optsplit.instance.model import Profile
from optsplit.profiles.reference import profile_reference
from optsplit.spec import Generator, Param

# Robust-problem defaults: Jetson Xavier NX CPU (6-core Carmel, up to 1.9 GHz, NVIDIA spec
# sheet), dynamic power ≈ 5 W at f_max (κ = 5 W / f_max³), 0.5 W static; 20 MHz shared
# uplink, −174 dBm/Hz noise, 23 dBm (0.2 W) transmit power, 3GPP macro path loss at
# 50–300 m. The device needs LOCAL_SCALE × the cycles the profiling host needed; the edge
# server runs SERVER_SCALE × the host's times. These two ratios are assumptions, not data.
JETSON_F_MAX, JETSON_F_MIN = 1.9e9, 0.2e9
KAPPA = 5.0 / JETSON_F_MAX**3
LOCAL_SCALE, SERVER_SCALE = 2.0, 0.05


def robust_instance(
    profile: Profile,
    profile_ref: str | dict[str, Any],
    devices: int,
    seed: int,
    processor: str = "host-cpu",
    host_clock: float = 2.6e9,
    deadline_factor: float = 1.0,
    epsilon: float = 0.05,
    bandwidth: float = 20e6,
) -> dict[str, Any]:
    """N devices running ``profile``; deadline = factor × the all-local mean time at f_max."""
    if devices < 1:
        raise ValueError("need at least one device")
    missing = [layer.name for layer in profile.layers if processor not in layer.time]
    if missing:
        raise ValueError(
            f"profile '{profile.name}' has no '{processor}' times for "
            f"{', '.join(missing[:3])}: measure it with `optsplit profile`"
        )
    rng = np.random.default_rng(seed)
    local_at_max = (
        sum(layer.time[processor].mean for layer in profile.layers) * LOCAL_SCALE * host_clock / JETSON_F_MAX
    )
    devs = []
    for i in range(devices):
        devs.append(
            {
                "name": f"dev{i}",
                "profile": profile_ref,
                "processor": processor,
                "server_processor": processor,
                "f_min": JETSON_F_MIN,
                "f_max": JETSON_F_MAX,
                "f_ref": host_clock,
                "local_scale": LOCAL_SCALE,
                "server_scale": SERVER_SCALE,
                "kappa": KAPPA,
                "static_power": 0.5,
                "tx_power": 0.2,
                "distance": float(rng.uniform(50, 300)),
                "deadline": float(deadline_factor * local_at_max * rng.uniform(0.8, 1.2)),
                "epsilon": epsilon,
            }
        )
    return {
        "name": f"robust-{profile.name}-{devices}dev-s{seed}",
        "description": f"{devices} Jetson-class devices running {profile.name}, seed {seed}, "
        f"deadline factor {deadline_factor}, epsilon {epsilon}",
        "formulation": "robust",
        "robust": {"bandwidth": bandwidth, "noise_density_dbm": -174.0, "epsilon": epsilon, "devices": devs},
    }


def _make(
    output: Path,
    devices: int,
    seed: int,
    profile: str,
    deadline_factor: float,
    epsilon: float,
    bandwidth: float,
) -> dict[str, Any]:
    loaded, ref = profile_reference(profile, output)
    try:
        return robust_instance(
            loaded, ref, devices, seed, deadline_factor=deadline_factor, epsilon=epsilon, bandwidth=bandwidth
        )
    except ValueError as exc:
        raise InputError(str(exc), path="--profile") from None


def generators() -> dict[str, Generator]:
    """N devices on one measured profile, deadlines relative to the all-local time."""
    params = (
        Param("devices", int, 10, "number of devices", minimum=1, aliases=("-n", "--nodes")),
        Param("seed", int, 0, "random seed", minimum=0),
        Param("profile", str, "instances/profiles/measured/alexnet.toml", "profile file with measured times"),
        Param(
            "deadline-factor",
            float,
            1.0,
            "deadline / all-local mean time at f_max",
            minimum=0,
            open_minimum=True,
        ),
        Param(
            "epsilon",
            float,
            0.05,
            "violation probability",
            minimum=0,
            maximum=1,
            open_minimum=True,
            open_maximum=True,
        ),
        Param("bandwidth", float, 20e6, "total uplink bandwidth [Hz]", minimum=0, open_minimum=True),
    )
    return {
        "robust": Generator(
            "robust",
            "robust: Jetson-class devices sharing one uplink",
            params,
            _make,
            lambda doc: f"{len(doc['robust']['devices'])} devices",
        )
    }
