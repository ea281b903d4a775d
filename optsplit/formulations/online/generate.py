"""Random `online` instances: N camera-class devices on one profile and accuracy table (seeded).

Defaults [assumptions, not data]: devices at 100–400 m (3GPP macro path loss), 80–120 GFLOP/s
at 3 W while computing, P_max = 0.5 W; an edge server of 10 TFLOP/s; 8-bit features in
8-kbit packets; 1 ms slots; −174 dBm/Hz noise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from optsplit.errors import InputError
from optsplit.spec import Generator, Param

PROFILE = "instances/profiles/measured/resnet18.toml"
ACCURACY = "instances/online/accuracy/resnet18.toml"


def online_instance(
    profile: str,
    accuracy: str,
    devices: int,
    seed: int,
    *,
    deadline: float = 0.04,
    bandwidth: float = 5e6,
    V: float = 2.0,
    frames: int = 100,
    budget: float = 0.03,
) -> dict[str, Any]:
    """The document of an instance (profile and table paths as given)."""
    rng = np.random.default_rng(seed)
    devs = [
        {
            "name": f"dev{i}",
            "distance": float(rng.uniform(100.0, 400.0)),
            "speed": float(rng.uniform(80e9, 120e9)),
            "compute_power": 3.0,
            "p_max": 0.5,
            "energy_budget": budget,
        }
        for i in range(devices)
    ]
    return {
        "name": f"online-{devices}dev-s{seed}",
        "description": (
            f"{devices} devices, deadline {deadline * 1e3:g} ms, {bandwidth / 1e6:g} MHz, seed {seed}"
        ),
        "formulation": "online",
        "online": {
            "profile": profile,
            "accuracy": accuracy,
            "server_speed": 10e12,
            "deadline": deadline,
            "slot": 0.001,
            "bandwidth": bandwidth,
            "noise_density_dbm": -174.0,
            "packet_bits": 8000.0,
            "feature_bits": 8.0,
            "V": V,
            "frames": frames,
            "seed": seed,
            "uncertainty_threshold": 0.8,
            "uncertainty_noise": 0.05,
            "devices": devs,
        },
    }


def _relative(path: str, output: Path, what: str) -> str:
    if not Path(path).exists():
        raise InputError(f"file '{path}' not found", path=f"--{what}")
    return os.path.relpath(Path(path).resolve(), output.resolve().parent)


def _make(
    output: Path,
    devices: int,
    seed: int,
    deadline: float,
    bandwidth: float,
    v: float,
    frames: int,
    budget: float,
    profile: str,
    accuracy: str,
) -> dict[str, Any]:
    return online_instance(
        _relative(profile, output, "profile"),
        _relative(accuracy, output, "accuracy"),
        devices,
        seed,
        deadline=deadline,
        bandwidth=bandwidth,
        V=v,
        frames=frames,
        budget=budget,
    )


def generators() -> dict[str, Generator]:
    """`optsplit generate online`."""
    params = (
        Param("devices", int, 10, "number of devices", minimum=1, aliases=("-n",)),
        Param("seed", int, 0, "random seed", minimum=0),
        Param("deadline", float, 0.04, "deadline per frame [s]", minimum=0, open_minimum=True),
        Param("bandwidth", float, 5e6, "shared uplink bandwidth [Hz]", minimum=0, open_minimum=True),
        Param("v", float, 2.0, "drift-plus-penalty weight of accuracy", minimum=0),
        Param("frames", int, 100, "frames in the horizon", minimum=1),
        Param("budget", float, 0.03, "energy budget per device and frame [J]", minimum=0, open_minimum=True),
        Param("profile", str, PROFILE, "chain profile file"),
        Param("accuracy", str, ACCURACY, "accuracy table file"),
    )
    return {
        "online": Generator(
            "online",
            "online: devices sharing an uplink over slotted frames (ENACHI)",
            params,
            _make,
            lambda doc: f"{len(doc['online']['devices'])} devices, {doc['online']['frames']} frames",
        )
    }
