"""Random small `robust` instances for the tests (synthetic measured profiles)."""

from __future__ import annotations

from typing import Any

import numpy as np


def random_robust_doc(
    seed: int, devices: int = 3, layers: int = 4, bandwidth: float | None = None
) -> dict[str, Any]:
    """Devices with their own random chain profile; deadlines between tight and loose; B drawn
    in 1–6 MHz unless given."""
    rng = np.random.default_rng(seed)
    devs = []
    for i in range(devices):
        sizes = rng.uniform(5e3, 8e5, layers)
        sizes[-1] = 4e3
        means = rng.uniform(0.003, 0.02, layers)
        profile = {
            "name": f"chain{i}",
            "input_bytes": float(rng.uniform(1e5, 6e5)),
            "layers": [
                {
                    "name": f"L{j + 1}",
                    "flops": 1e8,
                    "output_bytes": float(sizes[j]),
                    "time": {
                        "dev": {
                            "mean": float(means[j]),
                            "var": float((rng.uniform(0.02, 0.2) * means[j]) ** 2),
                        },
                        "srv": {"mean": float(means[j] / 10), "var": float((0.05 * means[j] / 10) ** 2)},
                    },
                }
                for j in range(layers)
            ],
        }
        local = float(means.sum())
        devs.append(
            {
                "name": f"d{i}",
                "profile": profile,
                "processor": "dev",
                "server_processor": "srv",
                "f_min": 2e8,
                "f_max": 1.9e9,
                "f_ref": 1.9e9,
                "kappa": 7.3e-28,
                "static_power": float(rng.uniform(0, 1)),
                "tx_power": 0.2,
                "distance": float(rng.uniform(50, 300)),
                "deadline": float(local * rng.uniform(1.2, 2.4)),
                "epsilon": float(rng.choice([0.02, 0.05, 0.1])),
            }
        )
    return {
        "name": f"random-{seed}",
        "formulation": "robust",
        "robust": {
            "bandwidth": float(rng.uniform(1e6, 6e6)) if bandwidth is None else bandwidth,
            "devices": devs,
        },
    }


# Bandwidths from 1e5 Hz (most instances short of uplink) to 1e15 Hz (far past every link's
# power-limited regime, where rate ≈ p·g/(N0·ln 2) whatever the share): one per decade, on the
# first seeds of the random set.
WIDE_BANDWIDTHS = [10.0**k for k in range(5, 16)]
WIDE_SEEDS = (0, 1, 2)


def wide_bandwidth_docs() -> list[dict[str, Any]]:
    """The random instances of WIDE_SEEDS at every bandwidth of WIDE_BANDWIDTHS."""
    return [random_robust_doc(seed, bandwidth=bw) for bw in WIDE_BANDWIDTHS for seed in WIDE_SEEDS]
