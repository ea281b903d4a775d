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
        if raw["f_min"] > raw["f_max"]:
            raise InputError(
                f"f_min {raw['f_min']} exceeds f_max {raw['f_max']}", source=source, path=f"{at}.f_min"
            )
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
                f_min=float(raw["f_min"]),
                f_max=float(raw["f_max"]),
                f_ref=float(raw.get("f_ref", raw["f_max"])),
                kappa=float(raw["kappa"]),
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
            )
        )
    dbm = float(doc.get("noise_density_dbm", -174.0))
    noise = _finite_positive(dbm_to_watt, dbm, "noise density (W/Hz)", source, "robust.noise_density_dbm")
    return RobustSystem(float(doc["bandwidth"]), noise, tuple(devices))


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
