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

# Jetson Xavier NX GPU (384-core Volta). DVFS table: the 15 GPU clocks, 114.75-1109.25 MHz,
# that JetPack 5 lists for it (devfreq available_frequencies; NVIDIA Jetson Linux Developer
# Guide, power management for Jetson Xavier NX) - check on the device, tables change between
# releases. Assumed, not measured: the GPU runs a layer at its top clock in GPU_SCALE x the
# profiling host CPU's time; 20 % of that time does not scale with the clock (memory-bound
# work; arXiv 2502.06295 shows GPU time is not cycles/f, but no fraction was recovered); and
# the GPU-rail power P(f) = 0.6 + 0.8 x + 3.2 x^3 W (x = f/GHz), a shape chosen by us to give
# ~0.7 W at the lowest clock and ~5.9 W at the top one, within the module's 10/15/20 W power
# modes (NVIDIA Jetson Xavier NX data sheet). The radio of these instances is physical: 7 dB
# receiver noise figure and the 5G NR 256-QAM spectral-efficiency cap (section.py cites both).
XAVIER_NX_GPU_CLOCKS = (
    114.75e6, 204.0e6, 306.0e6, 408.0e6, 510.0e6, 599.25e6, 701.25e6, 752.25e6,
    803.25e6, 854.25e6, 905.25e6, 956.25e6, 1007.25e6, 1058.25e6, 1109.25e6,
)  # fmt: skip
GPU_POWER = (0.6, 0.8, 0.0, 3.2)
GPU_SCALE, GPU_INSENSITIVE = 0.5, 0.2
NOISE_FIGURE_DB, MAX_SPECTRAL_EFFICIENCY = 7.0, 7.4063
PROCESSOR_MODELS = ("cpu", "gpu")


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
    processor_model: str = "cpu",
) -> dict[str, Any]:
    """N devices running ``profile``; deadline = factor × the all-local mean time at f_max.

    ``processor_model`` 'gpu' gives Xavier NX GPUs with their DVFS table and the physical radio.
    """
    if devices < 1:
        raise ValueError("need at least one device")
    missing = [layer.name for layer in profile.layers if processor not in layer.time]
    if missing:
        raise ValueError(
            f"profile '{profile.name}' has no '{processor}' times for "
            f"{', '.join(missing[:3])}: measure it with `optsplit profile`"
        )
    if processor_model not in PROCESSOR_MODELS:
        raise ValueError(f"processor model '{processor_model}' is none of {', '.join(PROCESSOR_MODELS)}")
    gpu = processor_model == "gpu"
    rng = np.random.default_rng(seed)
    host_time = sum(layer.time[processor].mean for layer in profile.layers)
    local_at_max = host_time * (GPU_SCALE if gpu else LOCAL_SCALE * host_clock / JETSON_F_MAX)
    devs: list[dict[str, Any]] = []
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
        if gpu:
            dev = devs[-1]
            for key in ("f_min", "f_max", "kappa", "static_power"):
                del dev[key]
            dev.update(
                processor_model="gpu",
                clocks=list(XAVIER_NX_GPU_CLOCKS),
                f_ref=XAVIER_NX_GPU_CLOCKS[-1],
                local_scale=GPU_SCALE,
                insensitive_fraction=GPU_INSENSITIVE,
                power=list(GPU_POWER),
            )
    system: dict[str, Any] = {"bandwidth": bandwidth, "noise_density_dbm": -174.0}
    if gpu:
        system.update(noise_figure_db=NOISE_FIGURE_DB, max_spectral_efficiency=MAX_SPECTRAL_EFFICIENCY)
    system.update(epsilon=epsilon, devices=devs)
    kind = "Jetson Xavier NX GPU" if gpu else "Jetson-class"
    return {
        "name": f"robust-{profile.name}{'-gpu' if gpu else ''}-{devices}dev-s{seed}",
        "description": f"{devices} {kind} devices running {profile.name}, seed {seed}, "
        f"deadline factor {deadline_factor}, epsilon {epsilon}",
        "formulation": "robust",
        "robust": system,
    }


def _make(
    output: Path,
    devices: int,
    seed: int,
    profile: str,
    deadline_factor: float,
    epsilon: float,
    bandwidth: float,
    processor_model: str = "cpu",
) -> dict[str, Any]:
    if processor_model not in PROCESSOR_MODELS:
        raise InputError(f"expected one of {', '.join(PROCESSOR_MODELS)}", path="--processor-model")
    loaded, ref = profile_reference(profile, output)
    try:
        return robust_instance(
            loaded,
            ref,
            devices,
            seed,
            deadline_factor=deadline_factor,
            epsilon=epsilon,
            bandwidth=bandwidth,
            processor_model=processor_model,
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
        Param("processor-model", str, "cpu", "cpu, or gpu: Xavier NX GPU clock table, physical radio"),
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
