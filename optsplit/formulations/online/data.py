"""The `online` instance section: schema, and its build into vectorised arrays (SI units)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from optsplit.errors import InputError
from optsplit.instance.limits import DEFAULT_LIMITS
from optsplit.instance.loader import read_document, resolve_profile
from optsplit.instance.messages import field_path
from optsplit.instance.model import Profile, dbm_to_watt, path_loss_gain
from optsplit.spec import LoadContext, Section

from .accuracy import Surrogate, fit

KEY = "online"
INPUT = "input"  # split before the first layer: the raw input is sent
LOCAL = "local"  # split after the last layer: device-only, nothing is sent
# Slot boundaries computed from seconds are rounded to this fraction of a slot first, so
# that a window ending exactly on a boundary is not lost to floating-point noise.
SLOT_ROUNDING = 1e-9

POS = {"$ref": "#/$defs/positive"}
NONNEG = {"$ref": "#/$defs/nonneg"}
DEVICE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "distance", "speed", "compute_power", "p_max", "energy_budget"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "distance": {**POS, "description": "distance to the access point, m (3GPP macro path loss)"},
        "speed": {**POS, "description": "device compute speed, FLOP/s"},
        "compute_power": {**NONNEG, "description": "device power while computing, W"},
        "p_max": {**POS, "description": "maximum transmit power, W"},
        "energy_budget": {**POS, "description": "long-term average energy per frame, J (Ē_n)"},
    },
}
ACCURACY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["full_accuracy", "chance", "points"],
    "properties": {
        "model": {"type": "string"},
        "note": {"type": "string"},
        "full_accuracy": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "chance": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        "points": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["split", "fraction", "accuracy"],
                "properties": {
                    "split": {"type": "string", "minLength": 1},
                    "fraction": {"type": "array", "minItems": 2, "items": {"type": "number"}},
                    "accuracy": {"type": "array", "minItems": 2, "items": {"type": "number"}},
                },
            },
        },
    },
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "profile",
        "accuracy",
        "server_speed",
        "deadline",
        "slot",
        "bandwidth",
        "packet_bits",
        "V",
        "frames",
        "devices",
    ],
    "properties": {
        "profile": {"$ref": "#/$defs/profileOrPath"},
        "accuracy": {
            "oneOf": [
                {"type": "string", "minLength": 1, "description": "accuracy table file, relative path"},
                {"$ref": "#/$defs/onlineAccuracy"},
            ]
        },
        "server_speed": {**POS, "description": "edge server speed, FLOP/s"},
        "deadline": {**POS, "description": "hard deadline per frame τ, s (frame length)"},
        "slot": {**POS, "description": "slot length δ, s"},
        "bandwidth": {**POS, "description": "shared uplink bandwidth W, Hz"},
        "noise_density_dbm": {"type": "number", "description": "noise PSD, dBm/Hz (default −174)"},
        "packet_bits": {**POS, "description": "packet size L, bits"},
        "feature_bits": {**POS, "description": "bits per transmitted tensor element (default 8)"},
        "V": {**NONNEG, "description": "drift-plus-penalty weight of accuracy"},
        "frames": {"type": "integer", "minimum": 1},
        "seed": {"type": "integer", "minimum": 0},
        "uncertainty_threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "uncertainty_noise": NONNEG,
        "devices": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/onlineDevice"}},
    },
}
DEFS = {"onlineDevice": DEVICE, "onlineAccuracy": ACCURACY}


@dataclass(frozen=True)
class OnlineData:
    """Everything the policies, the simulator and the evaluator need, as arrays.

    Index n runs over devices, s over candidate splits (the accuracy table's splits, then
    device-only). Slot windows are half-open: device n may send in slots [first[n,s], last[s]).
    """

    name: str
    source: str
    profile: Profile
    devices: tuple[str, ...]
    split_names: tuple[str, ...]
    cut: np.ndarray  # (S,) layers 0..cut-1 run on the device
    bits: np.ndarray  # (S,) feature size D(s), bits (0 for device-only)
    packets: np.ndarray  # (S,) K(s) = ceil(D(s) / L)
    t_loc: np.ndarray  # (N, S) s
    e_loc: np.ndarray  # (N, S) J
    t_edge: np.ndarray  # (S,) s
    first: np.ndarray  # (N, S) first slot a device may send in
    last: np.ndarray  # (S,) slot after the last one whose packets arrive in time
    feasible: np.ndarray  # (N, S) the split can meet the deadline
    local: int  # index of the device-only split
    gain: np.ndarray  # (N,) mean channel gain (path loss)
    p_max: np.ndarray  # (N,) W
    budget: np.ndarray  # (N,) Ē_n, J per frame
    noise: float  # N0, W/Hz
    bandwidth: float
    packet_bits: float
    slot: float
    deadline: float
    slots: int  # slots per frame
    V: float
    frames: int
    seed: int
    threshold: float
    uncertainty_noise: float
    surrogate: Surrogate

    @property
    def n(self) -> int:
        return len(self.devices)

    def with_(self, **changes: Any) -> OnlineData:
        """A copy with scalar fields replaced (V, frames, seed) for sweeps."""
        from dataclasses import replace

        return replace(self, **changes)


def _accuracy_doc(raw: Any, ctx: LoadContext) -> tuple[dict[str, Any], str, str]:
    """The accuracy table, the field path its errors start from and the file they name."""
    if isinstance(raw, dict):
        return raw, f"{KEY}.accuracy", ctx.source
    path = ctx.base_dir / raw if not Path(raw).is_absolute() else Path(raw)
    if not path.exists():
        raise InputError(f"accuracy table '{raw}' not found", source=ctx.source, path=f"{KEY}.accuracy")
    doc = read_document(path, ctx.limits or DEFAULT_LIMITS)  # size, nesting and number limits apply
    for error in jsonschema.Draft202012Validator(ACCURACY).iter_errors(doc):
        raise InputError(error.message, source=str(path), path=field_path(list(error.absolute_path)))
    return doc, "", str(path)


def _series(doc: dict[str, Any], where: str, src: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for i, point in enumerate(doc["points"]):
        at = f"{where + '.' if where else ''}points[{i}]"
        frac = np.array(point["fraction"], float)
        acc = np.array(point["accuracy"], float)
        if frac.size != acc.size:
            raise InputError(f"{frac.size} fractions but {acc.size} accuracies", source=src, path=at)
        if np.any(frac < 0) or np.any(frac > 1) or np.any(np.diff(frac) <= 0):
            raise InputError(
                "fractions must increase strictly within [0, 1]", source=src, path=f"{at}.fraction"
            )
        if np.any(acc < 0) or np.any(acc > 1) or np.any(np.diff(acc) < 0):
            raise InputError(
                "accuracies must be in [0, 1] and non-decreasing", source=src, path=f"{at}.accuracy"
            )
        out.append((str(point["split"]), frac, acc))
    return out


def build(raw: Mapping[str, Any], ctx: LoadContext, built: Mapping[str, Any]) -> OnlineData:
    """Validate cross-field rules and turn the table into arrays."""
    src = ctx.source
    profile = resolve_profile(raw["profile"], ctx, f"{KEY}.profile")
    doc, where, table_src = _accuracy_doc(raw["accuracy"], ctx)
    series = _series(doc, where, table_src)
    layer_index = {layer.name: i for i, layer in enumerate(profile.layers)}
    names: list[str] = []
    cuts: list[int] = []
    for i, (name, _f, _a) in enumerate(series):
        if name == INPUT:
            cut = 0
        elif name in layer_index and layer_index[name] < profile.depth - 1:
            cut = layer_index[name] + 1
        else:
            known = ", ".join([INPUT, *(layer.name for layer in profile.layers[:-1])])
            raise InputError(
                f"split '{name}' is not '{INPUT}' nor a layer of '{profile.name}' before its last ({known})",
                source=table_src,
                path=f"{where + '.' if where else ''}points[{i}].split",
            )
        if name in names:
            raise InputError(
                f"split '{name}' appears twice",
                source=table_src,
                path=f"{where + '.' if where else ''}points[{i}].split",
            )
        names.append(name)
        cuts.append(cut)
    surrogate = fit(
        [(f, a) for _n, f, a in series] + [None], float(doc["chance"]), float(doc["full_accuracy"])
    )
    names.append(LOCAL)
    cuts.append(profile.depth)
    cut_of = np.array(cuts)

    devices = raw["devices"]
    seen: dict[str, int] = {}
    for i, d in enumerate(devices):
        if d["name"] in seen:
            raise InputError(
                f"duplicate device name '{d['name']}' (also {KEY}.devices[{seen[d['name']]}])",
                source=src,
                path=f"{KEY}.devices[{i}].name",
            )
        seen[d["name"]] = i
    deadline, slot = float(raw["deadline"]), float(raw["slot"])
    if slot > deadline:
        raise InputError(
            f"slot {slot} s is longer than the deadline {deadline} s", source=src, path=f"{KEY}.slot"
        )
    slots = math.floor(deadline / slot + SLOT_ROUNDING)
    flops = profile.flops()
    head = np.concatenate(([0.0], np.cumsum(flops)))[cut_of]  # FLOPs on the device per split
    tail = flops.sum() - head
    speed = np.array([d["speed"] for d in devices], float)
    t_loc = head[None, :] / speed[:, None]
    e_loc = t_loc * np.array([d["compute_power"] for d in devices], float)[:, None]
    t_edge = tail / float(raw["server_speed"])
    elements = profile.tensor_bytes()[cut_of] / 4.0  # float32 tensors
    bits = np.where(cut_of == profile.depth, 0.0, elements * float(raw.get("feature_bits", 8.0)))
    packet_bits = float(raw["packet_bits"])
    packets = np.ceil(bits / packet_bits - SLOT_ROUNDING).astype(np.int64)
    first = np.ceil(t_loc / slot - SLOT_ROUNDING).astype(np.int64)
    last = np.floor((deadline - t_edge) / slot + SLOT_ROUNDING).astype(np.int64)
    last = np.minimum(last, slots)
    local = len(names) - 1
    feasible = first < last[None, :]
    feasible[:, local] = t_loc[:, local] <= deadline * (1 + SLOT_ROUNDING)
    arrays = [cut_of, bits, packets, t_loc, e_loc, t_edge, first, last, feasible]
    gain = np.array([path_loss_gain(d["distance"]) for d in devices])
    p_max = np.array([d["p_max"] for d in devices], float)
    budget = np.array([d["energy_budget"] for d in devices], float)
    for a in (*arrays, gain, p_max, budget):
        a.setflags(write=False)
    return OnlineData(
        name=str(raw.get("name", "")),
        source=src,
        profile=profile,
        devices=tuple(d["name"] for d in devices),
        split_names=tuple(names),
        cut=cut_of,
        bits=bits,
        packets=packets,
        t_loc=t_loc,
        e_loc=e_loc,
        t_edge=t_edge,
        first=first,
        last=last,
        feasible=feasible,
        local=local,
        gain=gain,
        p_max=p_max,
        budget=budget,
        noise=dbm_to_watt(float(raw.get("noise_density_dbm", -174.0))),
        bandwidth=float(raw["bandwidth"]),
        packet_bits=packet_bits,
        slot=slot,
        deadline=deadline,
        slots=slots,
        V=float(raw["V"]),
        frames=int(raw["frames"]),
        seed=int(raw.get("seed", 0)),
        threshold=float(raw.get("uncertainty_threshold", 0.8)),
        uncertainty_noise=float(raw.get("uncertainty_noise", 0.05)),
        surrogate=surrogate,
    )


SECTION = Section(SCHEMA, build, DEFS)
