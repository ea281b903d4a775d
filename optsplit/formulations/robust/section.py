"""Robust's instance section `[robust]`: the shared uplink and the devices, with the checks a
schema cannot express (unique names, clock ranges, a channel, measured times per layer)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import numpy as np

from optsplit.errors import InputError
from optsplit.formulations.robust.model import RobustDevice, RobustSystem
from optsplit.instance.loader import resolve_profile
from optsplit.instance.messages import quoted
from optsplit.instance.model import Profile, dbm_to_watt, path_loss_gain
from optsplit.spec import LoadContext, Section

# Radio defaults keep instances written before these fields with their answers: no noise
# figure, no cap. Physical figures (used by the shipped gpu instances, see formulations/robust.md):
# noise figure 7 dB at the base-station receiver, between the 5 dB and 9 dB that 3GPP's
# system-level simulation assumptions give a gNB and a UE (TR 36.814 / TR 38.802; assumed);
# 7.4063 bit/s/Hz, the highest spectral efficiency of the 5G NR 256-QAM CQI table (3GPP TS
# 38.214 table 5.2.2.1-3, CQI 15: code rate 948/1024 x 8 bits).
NOISE_FIGURE_DB = 0.0
MAX_SPECTRAL_EFFICIENCY = math.inf


def build_robust(doc: Mapping[str, Any], ctx: LoadContext, built: Mapping[str, Any]) -> RobustSystem:
    """Build the `[robust]` section; checks that need more than one field at a time."""
    source = ctx.source
    default_eps = float(doc.get("epsilon", 0.05))
    devices, seen = [], set()
    profiles: dict[str, Profile] = {}
    for i, raw in enumerate(doc["devices"]):
        at = f"robust.devices[{i}]"
        if raw["name"] in seen:
            raise InputError(f"duplicate device name {quoted(raw['name'])}", source=source, path=f"{at}.name")
        seen.add(raw["name"])
        f_min, f_max, clocks = _clock_range(raw, source, at)
        model = raw.get("processor_model", "cpu")
        power = _processor(raw, model, source, at)
        if "gain" not in raw and "distance" not in raw:
            raise InputError("give the channel as 'gain' or 'distance'", source=source, path=at)
        key = raw["profile"] if isinstance(raw["profile"], str) else None
        if key is not None and key in profiles:
            profile = profiles[key]
        else:
            profile = resolve_profile(raw["profile"], ctx, f"{at}.profile")
            if key is not None:
                profiles[key] = profile
        _check_times(profile, raw, source, at)
        for key in ("local_scale", "server_scale"):  # variances scale with the square
            if key in raw:
                _finite_positive(lambda x: x * x, float(raw[key]), f"squared {key}", source, f"{at}.{key}")
        if "gain" in raw:
            gain = float(raw["gain"])
        else:
            distance = float(raw["distance"])
            gain = _finite_positive(path_loss_gain, distance, "channel gain", source, f"{at}.distance")
        devices.append(
            RobustDevice(
                name=raw["name"],
                profile=profile,
                f_min=f_min,
                f_max=f_max,
                f_ref=float(raw.get("f_ref", f_max)),
                kappa=float(raw.get("kappa", 0.0)),
                tx_power=float(raw["tx_power"]),
                gain=gain,
                deadline=float(raw["deadline"]),
                epsilon=float(raw.get("epsilon", default_eps)),
                processor=raw.get("processor"),
                server_processor=raw.get("server_processor"),
                local_scale=float(raw.get("local_scale", 1.0)),
                server_scale=float(raw.get("server_scale", 1.0)),
                flops_per_cycle=raw.get("flops_per_cycle"),
                server_speed=raw.get("server_speed"),
                static_power=float(raw.get("static_power", 0.0)),
                correlation=str(raw.get("correlation", "measured")),
                processor_model=model,
                clocks=clocks,
                insensitive_fraction=float(raw.get("insensitive_fraction", 0.0)),
                power=power,
            )
        )
    dbm = float(doc.get("noise_density_dbm", -174.0)) + float(doc.get("noise_figure_db", NOISE_FIGURE_DB))
    at = "robust.noise_figure_db" if "noise_figure_db" in doc else "robust.noise_density_dbm"
    noise = _finite_positive(dbm_to_watt, dbm, "receiver noise density (W/Hz)", source, at)
    cap = float(doc.get("max_spectral_efficiency", MAX_SPECTRAL_EFFICIENCY))
    return RobustSystem(float(doc["bandwidth"]), noise, tuple(devices), cap)


def _clock_range(raw: dict[str, Any], source: str, at: str) -> tuple[float, float, tuple[float, ...] | None]:
    """The clock range [f_min, f_max], or a DVFS table (positive, strictly ascending) and its ends."""
    if "clocks" in raw:
        for key in ("f_min", "f_max"):
            if key in raw:
                raise InputError(
                    f"give either 'clocks' or f_min/f_max, not both ({key} is set)",
                    source=source,
                    path=f"{at}.{key}",
                )
        clocks = tuple(float(f) for f in raw["clocks"])
        for j, f in enumerate(clocks):
            if not 0.0 < f < math.inf:
                raise InputError(
                    f"clock {f!r} Hz is not positive and finite", source=source, path=f"{at}.clocks[{j}]"
                )
            if j > 0 and f <= clocks[j - 1]:
                raise InputError(
                    f"clock {f!r} Hz does not exceed the one before ({clocks[j - 1]!r} Hz): "
                    "list the table strictly ascending, without duplicates",
                    source=source,
                    path=f"{at}.clocks[{j}]",
                )
        return clocks[0], clocks[-1], clocks
    for key in ("f_min", "f_max"):
        if key not in raw:
            raise InputError(
                f"give the clock range f_min, f_max or a table 'clocks' ({key} is missing)",
                source=source,
                path=at,
            )
    if raw["f_min"] > raw["f_max"]:
        raise InputError(
            f"f_min {raw['f_min']} exceeds f_max {raw['f_max']}", source=source, path=f"{at}.f_min"
        )
    return float(raw["f_min"]), float(raw["f_max"]), None


def _processor(raw: dict[str, Any], model: str, source: str, at: str) -> tuple[float, ...] | None:
    """The power model's fields: kappa for a CPU; for a GPU the power polynomial (coefficients
    ≥ 0, which keeps the energy convex in the clock) and no CPU-only field."""
    if model == "cpu":
        for key in ("power", "insensitive_fraction"):
            if key in raw:
                raise InputError(
                    f"'{key}' is a gpu field; set processor_model = \"gpu\"",
                    source=source,
                    path=f"{at}.{key}",
                )
        if "kappa" not in raw:
            raise InputError(
                "a cpu device needs 'kappa' (dynamic power kappa f^3)", source=source, path=f"{at}.kappa"
            )
        return None
    for key in ("kappa", "static_power"):
        if key in raw:
            raise InputError(
                f"'{key}' belongs to the cpu power model; a gpu's power is the polynomial 'power'",
                source=source,
                path=f"{at}.{key}",
            )
    if "power" not in raw:
        raise InputError(
            "a gpu device needs its power curve 'power' (W, coefficients of (f/GHz)^k, ascending)",
            source=source,
            path=f"{at}.power",
        )
    power = tuple(float(p) for p in raw["power"])
    for k, p in enumerate(power):
        if not 0.0 <= p < math.inf:
            raise InputError(
                f"power coefficient {p!r} must be finite and >= 0 (the energy stays convex in the clock)",
                source=source,
                path=f"{at}.power[{k}]",
            )
    if not any(power):
        raise InputError("the power curve is zero everywhere", source=source, path=f"{at}.power")
    if "insensitive_fraction" not in raw:
        raise InputError(
            "a gpu device needs 'insensitive_fraction' "
            "(the share of its time at f_ref that the clock does not change)",
            source=source,
            path=f"{at}.insensitive_fraction",
        )
    return power


def _finite_positive(
    compute: Callable[[float], float], field: float, what: str, source: str, at: str
) -> float:
    """A figure derived from a field (dB to linear), refused when it overflows or vanishes."""
    with np.errstate(over="ignore", under="ignore"):
        try:
            value = float(compute(field))
        except OverflowError:
            value = math.inf
    if not 0.0 < value < math.inf:
        message = f"gives a {what} of {value!r}; expected a positive finite figure"
        raise InputError(message, source=source, path=at)
    return value


def _check_times(profile: Profile, raw: dict[str, Any], source: str, at: str) -> None:
    """Every layer needs a local time (measured or via flops_per_cycle) and a server time."""
    for j, layer in enumerate(profile.layers):
        if raw.get("processor") not in layer.time and "flops_per_cycle" not in raw:
            raise InputError(
                f"layer {j + 1} {quoted(layer.name)} of profile {quoted(profile.name)} has no measured time "
                f"for processor {quoted(raw.get('processor'))} and the device gives no flops_per_cycle",
                source=source,
                path=f"{at}.processor",
            )
        if raw.get("server_processor") not in layer.time and "server_speed" not in raw:
            raise InputError(
                f"layer {j + 1} {quoted(layer.name)} of profile {quoted(profile.name)} has no measured time "
                f"for server processor {quoted(raw.get('server_processor'))} and the device gives no "
                "server_speed",
                source=source,
                path=f"{at}.server_processor",
            )


def sections() -> dict[str, Section]:
    fragment = json.loads(resources.files(__package__).joinpath("schema.json").read_text())
    return {"robust": Section(fragment["properties"]["robust"], build_robust, fragment["$defs"])}
