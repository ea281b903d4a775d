"""Shared fixtures: small hand-checkable routing instances."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests are deterministic by default (same examples on every run and machine, no
# per-example deadline: the machine may be loaded); OPTSPLIT_HYPOTHESIS=explore draws anew.
settings.register_profile(
    "deterministic", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("OPTSPLIT_HYPOTHESIS", "deterministic"))

ROOT = Path(__file__).resolve().parent.parent
INSTANCES = ROOT / "instances"

# dev --(1 MB/s)-- ap --(1 GB/s, 1 ms)-- edge. The optimum keeps layer 1 on the device
# and runs layer 2 at the edge: 0.1 + (0.01 + 1e-5 + 0.001) + 0.1 + (1e-6 + 0.001 + 0.001).
LINE_OPTIMUM = 0.213011
LINE_DOC: dict[str, Any] = {
    "name": "line",
    "formulation": "routing",
    "network": {
        "nodes": [
            {"name": "dev", "kind": "device", "speed": 1e9},
            {"name": "ap", "kind": "ap"},
            {"name": "edge", "kind": "edge", "speed": 1e11, "processor": "gpu"},
        ],
        "links": [
            {"src": "dev", "dst": "ap", "rate": 8e6},
            {"src": "ap", "dst": "edge", "rate": 8e9, "delay": 0.001},
        ],
    },
    "job": {
        "source": "dev",
        "destination": "dev",
        "profile": {
            "name": "two-layer",
            "input_bytes": 1e6,
            "layers": [
                {"name": "L1", "flops": 1e8, "output_bytes": 1e4},
                {"name": "L2", "flops": 1e10, "output_bytes": 1e3},
            ],
        },
    },
}


@pytest.fixture
def line_doc() -> dict[str, Any]:
    return copy.deepcopy(LINE_DOC)
