"""The `multimodal` instance section: schema, and its build into arrays the methods share.

A multimodal DNN (a shipped model by name, a profile file, or an inline table) is grouped
into blocks (at most ``blocks_per_branch`` per branch and per shared segment, contiguous in
file order, so the block graph stays acyclic); M sensors send their modality's D_m bits over
K resource blocks (rate per RB per sensor from path loss + seeded Rayleigh fading, or given);
C cores of given speeds run the blocks, with a NoC cost when a tensor crosses cores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optsplit.errors import InputError
from optsplit.instance.dag import INPUT_PREFIX, resolved_inputs
from optsplit.instance.model import dbm_to_watt, path_loss_gain
from optsplit.profiles.multimodal import MODELS, MultimodalModel, load_model, model_from_dict
from optsplit.spec import LoadContext

KEY = "multimodal"
POLICIES = ("static", "reassign")
NOISE_DBM_PER_HZ = -174.0
DEFAULT_DISTANCE = 100.0  # m

_POS = {"$ref": "#/$defs/positive"}
_NONNEG = {"$ref": "#/$defs/nonneg"}
DEFS: dict[str, Any] = {
    "multimodalRadio": {
        "type": "object",
        "additionalProperties": False,
        "required": ["resource_blocks"],
        "properties": {
            "resource_blocks": {"type": "integer", "minimum": 1, "description": "K, number of RBs"},
            "rb_bandwidth": {**_POS, "description": "B, width of one RB [Hz] (default 180 kHz)"},
            "power_per_rb": {**_POS, "description": "transmit power per RB [W] (default 10 mW)"},
            "noise_density": {**_POS, "description": "N0 [W/Hz] (default -174 dBm/Hz)"},
            "fading_seed": {"type": "integer", "minimum": 0, "description": "seed of the Rayleigh fading"},
            "policy": {"enum": list(POLICIES), "description": "static RBs, or re-assigned when one finishes"},
            "rates": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "array", "minItems": 1, "items": _POS},
                "description": "rate [bit/s] per sensor (rows, in sensor order) per RB; replaces the physics",
            },
        },
    },
    "multimodalAccelerator": {
        "type": "object",
        "additionalProperties": False,
        "required": ["cores", "core_speed"],
        "properties": {
            "cores": {"type": "integer", "minimum": 1},
            "core_speed": {
                "oneOf": [_POS, {"type": "array", "minItems": 1, "items": _POS}],
                "description": "FLOP/s per core (one value for all, or one per core)",
            },
            "noc_bandwidth": {**_POS, "description": "bytes/s when a tensor crosses cores (default: none)"},
            "noc_latency": {**_NONNEG, "description": "s per crossing (default 0)"},
        },
    },
    "multimodalSensor": {
        "type": "object",
        "additionalProperties": False,
        "required": ["modality"],
        "properties": {
            "modality": {"type": "string", "minLength": 1},
            "distance": {**_POS, "description": "to the access point [m] (default 100)"},
            "bits": {**_POS, "description": "D_m, data to send [bit] (default: the model's sensor_bits)"},
            "workload_scale": {**_POS, "description": "multiplies the FLOPs of this modality's branch"},
        },
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["model", "radio", "accelerator", "sensors"],
    "properties": {
        "model": {
            "oneOf": [{"type": "string", "minLength": 1}, {"type": "object"}],
            "description": "a shipped model name, a multimodal profile file, or the profile inline",
        },
        "blocks_per_branch": {"type": "integer", "minimum": 1},
        "resolution": {**_POS, "description": "tick of the exact models [s] (default: PACS makespan / 1000)"},
        "chunk_options": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "integer", "minimum": 1, "maximum": 64},
            "description": "numbers of equal chunks a modality's data may be cut into (default [1])",
        },
        "radio": {"$ref": "#/$defs/multimodalRadio"},
        "accelerator": {"$ref": "#/$defs/multimodalAccelerator"},
        "sensors": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/multimodalSensor"}},
    },
}

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class MultimodalData:
    """Arrays of one instance: M modalities, K RBs, C cores, N blocks, E block edges."""

    name: str
    source: str
    model: str
    modalities: tuple[str, ...]
    bits: FloatArray  # (M,) D_m
    rates: FloatArray  # (M, K) bit/s of sensor m on RB k
    policy: str
    chunk_options: tuple[int, ...]
    speeds: FloatArray  # (C,) FLOP/s
    noc_bandwidth: float  # bytes/s; inf = free
    noc_latency: float  # s
    block_names: tuple[str, ...]
    block_layers: tuple[tuple[str, ...], ...]
    flops: FloatArray  # (N,) after workload scaling
    branch: IntArray  # (N,) modality index, -1 for blocks after the join
    entry: IntArray  # (M,) the block consuming modality m's input
    edge_src: IntArray
    edge_dst: IntArray
    edge_bytes: FloatArray
    resolution: float | None = None  # tick of the exact models [s]

    @property
    def n_modalities(self) -> int:
        return len(self.modalities)

    @property
    def n_rbs(self) -> int:
        return int(self.rates.shape[1])

    @property
    def n_cores(self) -> int:
        return int(self.speeds.size)

    @property
    def n_blocks(self) -> int:
        return len(self.block_names)

    def noc_lag(self, nbytes: float | FloatArray) -> float | FloatArray:
        """Time for a tensor of ``nbytes`` to cross cores: latency + bytes / bandwidth."""
        return self.noc_latency + nbytes / self.noc_bandwidth


def _fail(message: str, ctx: LoadContext, path: str) -> InputError:
    return InputError(message, source=ctx.source, path=f"{KEY}.{path}")


def _model(raw: Any, ctx: LoadContext) -> MultimodalModel:
    if isinstance(raw, dict):
        try:
            return model_from_dict(raw, ctx.source)
        except InputError as exc:
            raise _fail(exc.detail, ctx, f"model.{exc.path}" if exc.path else "model") from None
    if raw in MODELS:
        return MODELS[raw]()
    path = Path(raw) if Path(raw).is_absolute() else ctx.base_dir / raw
    if not path.is_file():
        known = ", ".join(MODELS)
        raise _fail(f"'{raw}' is neither a shipped model ({known}) nor a file", ctx, "model")
    try:
        return load_model(path)
    except InputError as exc:
        raise _fail(f"{path.name}: {exc.path or ''}: {exc.detail}", ctx, "model") from None


def _groups(names: list[str], flops: list[float], limit: int | None) -> list[list[int]]:
    """Split positions 0..n-1 into at most ``limit`` contiguous groups of similar FLOPs."""
    n = len(names)
    if limit is None or n <= limit:
        return [[i] for i in range(n)]
    cum = np.cumsum(np.maximum(flops, 0.0))
    total = cum[-1] if cum[-1] > 0 else float(n)
    weights = cum if cum[-1] > 0 else np.arange(1, n + 1, dtype=float)
    cut = [int(np.searchsorted(weights, total * g / limit, side="left")) for g in range(1, limit)]
    bounds = sorted({0, *(min(max(c + 1, 1), n - 1) for c in cut), n})
    return [list(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _blocks(
    model: MultimodalModel, limit: int | None, scale: dict[str, float], ctx: LoadContext
) -> tuple[list[str], list[tuple[str, ...]], list[float], list[int], list[int], list[tuple[int, int, float]]]:
    """Group layers into blocks: per dependency set (a branch, or the layers after a join)."""
    profile = model.profile
    order = [m.name for m in model.modalities]
    deps = model.depends_on()
    inputs = resolved_inputs(profile)
    segments: dict[frozenset[str], list[int]] = {}
    for j, layer in enumerate(profile.layers):
        segments.setdefault(frozenset(deps[layer.name]), []).append(j)
    block_of: dict[str, int] = {}
    names: list[str] = []
    members: list[tuple[str, ...]] = []
    flops: list[float] = []
    branch: list[int] = []
    for key, layers in segments.items():
        only = next(iter(key)) if len(key) == 1 else None
        factor = scale.get(only, 1.0) if only else 1.0
        for group in _groups(
            [profile.layers[j].name for j in layers], [profile.layers[j].flops for j in layers], limit
        ):
            idx = [layers[g] for g in group]
            first, last = profile.layers[idx[0]].name, profile.layers[idx[-1]].name
            for j in idx:
                block_of[profile.layers[j].name] = len(names)
            names.append(first if first == last else f"{first}..{last}")
            members.append(tuple(profile.layers[j].name for j in idx))
            flops.append(factor * sum(profile.layers[j].flops for j in idx))
            branch.append(order.index(only) if only else -1)
    entry = [-1] * len(order)
    edges: dict[tuple[int, int], float] = {}
    size = {layer.name: layer.output_bytes for layer in profile.layers}
    for layer, names_in in zip(profile.layers, inputs):
        v = block_of[layer.name]
        for src in names_in:
            if src.startswith(INPUT_PREFIX):
                m = order.index(src[len(INPUT_PREFIX) :])
                if entry[m] >= 0 or len(names_in) > 1:
                    raise _fail(
                        f"modality '{order[m]}' must be consumed by one layer and by itself (layer "
                        f"'{layer.name}'): its data are cut into chunks for that layer",
                        ctx,
                        "model",
                    )
                entry[m] = v
                continue
            u = block_of[src]
            if u != v:
                edges[(u, v)] = edges.get((u, v), 0.0) + size[src]
    for m, v in enumerate(entry):
        if v < 0:
            raise _fail(f"modality '{order[m]}' feeds no layer", ctx, "model")
        if any(b == v for (_, b) in edges):
            raise _fail(
                f"block '{names[v]}' consumes modality '{order[m]}' and other layers; "
                "lower blocks_per_branch or split the model",
                ctx,
                "blocks_per_branch",
            )
    return names, members, flops, branch, entry, [(u, v, b) for (u, v), b in edges.items()]


def _rates(raw: dict[str, Any], sensors: list[dict[str, Any]], ctx: LoadContext) -> FloatArray:
    """Rate per sensor per RB: given, or B·log2(1 + p·g/(B·N0)) with g = path loss × Exp(1)."""
    k = raw["resource_blocks"]
    if "rates" in raw:
        rates = raw["rates"]
        if len(rates) != len(sensors):
            raise _fail(
                f"expected {len(sensors)} rows (one per sensor), got {len(rates)}", ctx, "radio.rates"
            )
        for i, row in enumerate(rates):
            if len(row) != k:
                raise _fail(f"expected {k} rates (one per RB), got {len(row)}", ctx, f"radio.rates[{i}]")
        return np.array(rates, dtype=float)
    bandwidth = raw.get("rb_bandwidth", 180e3)
    power = raw.get("power_per_rb", 0.01)
    noise = raw.get("noise_density", dbm_to_watt(NOISE_DBM_PER_HZ))
    rng = np.random.default_rng(raw.get("fading_seed", 0))
    fading = rng.exponential(1.0, size=(len(sensors), k))
    loss = np.array([path_loss_gain(s.get("distance", DEFAULT_DISTANCE)) for s in sensors])
    snr = power * loss[:, None] * fading / (bandwidth * noise)
    return np.asarray(bandwidth * np.log2(1.0 + snr), dtype=float)


def build(raw: Mapping[str, Any], ctx: LoadContext, built: Mapping[str, Any]) -> MultimodalData:
    """Build the section's arrays; cross-field checks raise InputError with the field path."""
    model = _model(raw["model"], ctx)
    order = [m.name for m in model.modalities]
    sensors = list(raw["sensors"])
    seen: dict[str, int] = {}
    for i, s in enumerate(sensors):
        name = s["modality"]
        if name not in order:
            raise _fail(f"unknown modality '{name}'; the model has {', '.join(order)}", ctx, f"sensors[{i}]")
        if name in seen:
            raise _fail(
                f"modality '{name}' has two sensors (also sensors[{seen[name]}])", ctx, f"sensors[{i}]"
            )
        seen[name] = i
    missing = [m for m in order if m not in seen]
    if missing:
        raise _fail(f"modality '{missing[0]}' of the model has no sensor", ctx, "sensors")
    sensors = [sensors[seen[m]] for m in order]  # model order from here on
    radio, acc = raw["radio"], raw["accelerator"]
    rates = _rates(radio, list(raw["sensors"]), ctx)[[seen[m] for m in order]]
    policy = radio.get("policy", "static")
    k = rates.shape[1]
    if policy == "static" and k < len(order):
        raise _fail(
            f"{k} RB(s) for {len(order)} modalities: under the static policy every modality needs one",
            ctx,
            "radio.resource_blocks",
        )
    cores = acc["cores"]
    speed = acc["core_speed"]
    speeds = np.full(cores, float(speed)) if not isinstance(speed, list) else np.array(speed, dtype=float)
    if speeds.size != cores:
        raise _fail(
            f"expected {cores} speeds (one per core), got {speeds.size}", ctx, "accelerator.core_speed"
        )
    bits = []
    for m, s in zip(model.modalities, sensors):
        value = s.get("bits", m.sensor_bits if m.sensor_bits is not None else 8.0 * m.input_bytes)
        if not value > 0:
            raise _fail(
                f"modality '{m.name}' sends no data; give `bits`", ctx, f"sensors[{seen[m.name]}].bits"
            )
        bits.append(float(value))
    scale = {m: float(s.get("workload_scale", 1.0)) for m, s in zip(order, sensors)}
    names, members, flops, branch, entry, edges = _blocks(model, raw.get("blocks_per_branch"), scale, ctx)
    options = tuple(sorted(raw.get("chunk_options", [1])))
    ints = np.int64
    return MultimodalData(
        name=model.name,
        source=ctx.source,
        model=model.name,
        modalities=tuple(order),
        bits=np.array(bits),
        rates=rates,
        policy=policy,
        chunk_options=options,
        speeds=speeds,
        noc_bandwidth=float(acc.get("noc_bandwidth", math.inf)),
        noc_latency=float(acc.get("noc_latency", 0.0)),
        block_names=tuple(names),
        block_layers=tuple(members),
        flops=np.array(flops, dtype=float),
        branch=np.array(branch, dtype=ints),
        entry=np.array(entry, dtype=ints),
        edge_src=np.array([e[0] for e in edges], dtype=ints),
        edge_dst=np.array([e[1] for e in edges], dtype=ints),
        edge_bytes=np.array([e[2] for e in edges], dtype=float),
        resolution=raw.get("resolution"),
    )
