"""Seeded `multimodal` instances: a shipped model or a synthetic one, with the heterogeneity
knob, the latency scaling factor, K resource blocks and C cores.

Heterogeneity h ≥ 0 spreads the modalities apart in opposite directions: modality m (of M,
position s_m from -1 to +1) sends (1 + h)^{s_m} × its base data and computes (1 + h)^{-s_m}
× its branch's base FLOPs, so at high h one modality has much to send and little to compute
and another the reverse: the case where overlapping transfer and compute pays. The latency
scaling factor multiplies every block's FLOPs (shifting the balance toward compute).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from optsplit.errors import InputError
from optsplit.formulations.multimodal.data import KEY
from optsplit.profiles.multimodal import MODELS
from optsplit.spec import Generator, Param

SYNTHETIC = "synthetic"
CORE_SPEED = 1e11  # FLOP/s per core (assumption; an NPU core of the order of 100 GFLOP/s)
NOC_BANDWIDTH = 1.6e10  # bytes/s per crossing (assumption)
NOC_LATENCY = 1e-7  # s per crossing (assumption)
SYNTHETIC_BITS = 1.0e6  # base data per synthetic modality [bit]


def synthetic_model(modalities: int, blocks: int, rng: np.random.Generator) -> dict[str, Any]:
    """M chain branches of ``blocks`` blocks (FLOPs 1e8..1e9, outputs 4 kB..400 kB), a fusion
    block consuming every branch and a head: the inline form of a multimodal profile."""
    names = [f"m{m}" for m in range(modalities)]
    layers: list[dict[str, Any]] = []
    ends = []
    for name in names:
        for b in range(blocks):
            layer = {
                "name": f"{name}.b{b}",
                "flops": float(rng.uniform(1e8, 1e9)),
                "output_bytes": float(rng.uniform(4e3, 4e5)),
            }
            if b == 0:
                layer["inputs"] = [f"input:{name}"]
            layers.append(layer)
        ends.append(f"{name}.b{blocks - 1}")
    layers.append({"name": "fuse", "flops": 5e7, "output_bytes": 4096.0, "inputs": ends})
    layers.append({"name": "head", "flops": 1e7, "output_bytes": 4000.0})
    input_bytes = SYNTHETIC_BITS / 8
    return {
        "name": f"synthetic-{modalities}x{blocks}",
        "input_bytes": input_bytes * modalities,
        "modalities": [{"name": n, "input_bytes": input_bytes, "sensor_bits": SYNTHETIC_BITS} for n in names],
        "layers": layers,
    }


def multimodal_instance(
    model: str = "audio_visual",
    modalities: int = 3,
    blocks: int = 8,
    cores: int = 4,
    rbs: int = 16,
    heterogeneity: float = 1.0,
    scale: float = 1.0,
    chunks: int = 4,
    seed: int = 0,
    policy: str = "static",
    blocks_per_branch: int | None = None,
) -> dict[str, Any]:
    """One instance document (see the module docstring for the knobs)."""
    rng = np.random.default_rng(seed)
    if model == SYNTHETIC:
        table: Any = synthetic_model(modalities, blocks, rng)
        mods = [(m["name"], m["sensor_bits"]) for m in table["modalities"]]
    elif model in MODELS:
        table = model
        built = MODELS[model]()
        mods = [(m.name, m.sensor_bits or 8 * m.input_bytes) for m in built.modalities]
    else:
        raise InputError(
            f"unknown model '{model}'; use {SYNTHETIC} or one of {', '.join(MODELS)}", path="model"
        )
    M = len(mods)
    position = np.linspace(-1.0, 1.0, M) if M > 1 else np.zeros(1)
    sensors = [
        {
            "modality": name,
            "distance": float(rng.uniform(50.0, 250.0)),
            "bits": float(bits * (1 + heterogeneity) ** s),
            "workload_scale": float(scale * (1 + heterogeneity) ** (-s)),
        }
        for (name, bits), s in zip(mods, position)
    ]
    section: dict[str, Any] = {
        "model": table,
        "chunk_options": sorted({1, *(c for c in (2, 4, 8) if c <= chunks)}),
        "radio": {"resource_blocks": rbs, "fading_seed": seed, "policy": policy},
        "accelerator": {
            "cores": cores,
            "core_speed": CORE_SPEED,
            "noc_bandwidth": NOC_BANDWIDTH,
            "noc_latency": NOC_LATENCY,
        },
        "sensors": sensors,
    }
    if blocks_per_branch is not None:
        section["blocks_per_branch"] = blocks_per_branch
    name = f"{model}-h{heterogeneity:g}-c{cores}-k{rbs}-s{seed}"
    return {
        "name": name,
        "description": (
            f"{model} ({M} modalities), heterogeneity {heterogeneity:g}, latency scale {scale:g}, "
            f"{cores} cores, {rbs} RBs, {policy} RBs, seed {seed}"
        ),
        "formulation": KEY,
        KEY: section,
    }


def _make(output: Path, **params: Any) -> dict[str, Any]:
    if params["blocks_per_branch"] == 0:
        params["blocks_per_branch"] = None
    return multimodal_instance(**params)


def _summary(doc: dict[str, Any]) -> str:
    sec = doc[KEY]
    radio, acc = sec["radio"], sec["accelerator"]
    return f"{len(sec['sensors'])} modalities, {radio['resource_blocks']} RBs, {acc['cores']} cores"


def generators() -> dict[str, Generator]:
    params = (
        Param("model", str, "audio_visual", f"{SYNTHETIC} or a shipped model: {', '.join(MODELS)}"),
        Param("modalities", int, 3, "modalities of a synthetic model", minimum=1, maximum=16),
        Param("blocks", int, 8, "blocks per branch of a synthetic model", minimum=1, maximum=500),
        Param("cores", int, 4, "accelerator cores C", minimum=1, maximum=256, aliases=("-c",)),
        Param("rbs", int, 16, "resource blocks K", minimum=1, maximum=1024, aliases=("-k",)),
        Param("heterogeneity", float, 1.0, "spread of data sizes and branch workloads", minimum=0),
        Param(
            "scale", float, 1.0, "latency scaling factor on every block's FLOPs", minimum=0, open_minimum=True
        ),
        Param("chunks", int, 4, "largest number of chunks a modality may be cut into", minimum=1, maximum=8),
        Param("seed", int, 0, "seed of distances, fading and synthetic FLOPs", minimum=0),
        Param("policy", str, "static", "RB policy: static or reassign"),
        Param(
            "blocks_per_branch",
            int,
            0,
            "group layers into at most this many blocks per branch (0: no)",
            minimum=0,
        ),
    )
    return {
        KEY: Generator(
            KEY, "multimodal sensors → OFDMA RBs → multi-core accelerator", params, _make, _summary
        )
    }
