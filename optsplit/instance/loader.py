"""Read, validate and build instances and profiles; write them back.

Reading stays within ReadLimits (size, nesting, YAML aliases, digits: optsplit.instance.reading).
Validation has three stages: a scan for what no schema expresses about numbers and depth,
the JSON Schema shipped with the package (shapes, types, ranges), then checks across fields
(names that must exist, duplicates). Every error names the file and the field path,
e.g. ``network.links[3].rate``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
import yaml

from optsplit.errors import InputError
from optsplit.instance import reading
from optsplit.instance.dag import validate_dag
from optsplit.instance.limits import DEFAULT_LIMITS, ReadLimits
from optsplit.instance.messages import brief, quoted
from optsplit.instance.model import (
    Instance,
    Layer,
    Profile,
    RobustDevice,
    RobustSystem,
    TimeStat,
    dbm_to_watt,
    path_loss_gain,
)
from optsplit.instance.sections import build_sections
from optsplit.instance.validation import validate
from optsplit.spec import LoadContext


def read_document(path: str | Path, limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Parse a TOML, JSON or YAML file into a dict (safe loaders, within ``limits``)."""
    return reading.read_document(Path(path), limits)


def _time_stats(raw: dict[str, Any] | None) -> dict[str, TimeStat]:
    return {
        key: TimeStat(float(v["mean"]), float(v.get("var", 0.0)), v.get("samples"))
        for key, v in (raw or {}).items()
    }


def profile_from_dict(doc: dict[str, Any], source: str | None = None, at: str = "") -> Profile:
    """Build a Profile from an already validated dict; a DAG (layers naming their inputs) is
    checked for unknown names, cycles and dangling outputs, with field paths under ``at``."""
    layers = tuple(
        Layer(
            str(x["name"]),
            float(x["flops"]),
            float(x["output_bytes"]),
            float(x.get("params", 0.0)),
            _time_stats(x.get("time")),
            tuple(str(name) for name in x.get("inputs", ())),
        )
        for x in doc["layers"]
    )
    profile = Profile(
        str(doc["name"]),
        float(doc["input_bytes"]),
        layers,
        str(doc.get("description", "")),
        str(doc.get("derivation", "")),
        dict(doc.get("machine", {})),
    )
    modalities = [str(m["name"]) for m in doc["modalities"]] if "modalities" in doc else None
    if modalities is not None or any(layer.inputs for layer in layers):
        validate_dag(profile, modalities, source=source, at=at)
    return profile


def load_profile(path: str | Path, limits: ReadLimits = DEFAULT_LIMITS) -> Profile:
    """Load and validate a profile file."""
    path = Path(path)
    doc = read_document(path, limits)
    validate(doc, str(path), limits, "profile")
    return profile_from_dict(doc, str(path))


def resolve_profile(ref: str | dict[str, Any], ctx: LoadContext, at: str) -> Profile:
    """A profile given inline or as a file path relative to the instance (field ``at``)."""
    return _resolve_profile(ref, ctx.base_dir, ctx.source, at, ctx.limits or DEFAULT_LIMITS)


def _resolve_profile(
    ref: str | dict[str, Any], base: Path, source: str, at: str, limits: ReadLimits
) -> Profile:
    if isinstance(ref, dict):
        return profile_from_dict(ref, source, at)
    try:
        path = base / ref
        found = path.exists()
    except (OSError, ValueError):  # a NUL byte, a name too long for the system
        raise InputError(f"not a usable file name: {brief(ref)}", source=source, path=at) from None
    if not found:
        folder = str(path.parent)
        folder = folder if folder.isprintable() else brief(folder)
        message = f"profile file {quoted(ref)} not found (looked in {folder})"
        raise InputError(message, source=source, path=at)
    try:
        return load_profile(path, limits)
    except InputError as exc:  # say which instance field led to the broken profile file
        raise InputError(f"profile {quoted(ref)}: {exc}", source=source, path=at) from None


def from_dict(
    doc: dict[str, Any],
    source: str = "<dict>",
    base_dir: Path | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Instance:
    """Validate a parsed document and build the Instance (profile paths relative to base_dir)."""
    validate(doc, source, limits)
    base = base_dir or Path.cwd()
    robust = _robust(doc["robust"], base, source, limits) if "robust" in doc else None
    sections = build_sections(doc, LoadContext(source, base, limits))
    return Instance(
        doc["name"],
        source,
        str(doc.get("description", "")),
        doc.get("formulation"),
        robust,
        sections,
    )


def _robust(doc: dict[str, Any], base: Path, source: str, limits: ReadLimits) -> RobustSystem:
    """Build the `robust` section; checks that need more than one field at a time."""
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
            profile = _resolve_profile(raw["profile"], base, source, f"{at}.profile", limits)
            if key is not None:
                profiles[key] = profile
        _check_times(profile, raw, source, at)
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


def load(path: str | Path, limits: ReadLimits = DEFAULT_LIMITS) -> Instance:
    """Load an instance file (.toml, .json, .yaml); raises InputError naming file and field.

    ``limits`` caps file size, nesting, YAML alias expansion and integer length.
    """
    path = Path(path)
    return from_dict(read_document(path, limits), str(path), path.parent, limits)


def dump_document(doc: dict[str, Any], path: str | Path) -> None:
    """Write a document as TOML, JSON or YAML, chosen by the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".toml":
        path.write_text(tomli_w.dumps(doc))
    elif suffix == ".json":
        path.write_text(json.dumps(doc, indent=1) + "\n")
    elif suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    else:
        raise InputError(f"unknown file type '{suffix}'", source=str(path))


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """The file form of a Profile (inverse of profile_from_dict)."""
    doc: dict[str, Any] = {"name": profile.name}
    if profile.description:
        doc["description"] = profile.description
    if profile.derivation:
        doc["derivation"] = profile.derivation
    if profile.machine:
        doc["machine"] = profile.machine
    doc["input_bytes"] = profile.input_bytes
    layers = []
    for layer in profile.layers:
        raw: dict[str, Any] = {
            "name": layer.name,
            "flops": layer.flops,
            "output_bytes": layer.output_bytes,
            "params": layer.params,
        }
        if layer.inputs:
            raw["inputs"] = list(layer.inputs)
        if layer.time:
            raw["time"] = {
                k: {"mean": v.mean, "var": v.var, **({"samples": v.samples} if v.samples else {})}
                for k, v in layer.time.items()
            }
        layers.append(raw)
    doc["layers"] = layers
    return doc
