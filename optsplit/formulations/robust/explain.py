"""Why a robust instance has no plan, per device, in milliseconds and megahertz."""

from __future__ import annotations

import numpy as np

from optsplit.formulations.robust.data import RobustData
from optsplit.formulations.robust.kkt import _Batch
from optsplit.formulations.robust.physics import robust_latency


def explain_infeasible(data: RobustData, parts: np.ndarray | None = None) -> str | None:
    """Devices that cannot meet their deadline alone (at their given partition point, or at
    any); else the bandwidth shortfall."""
    lines = []
    needs = []
    for i, d in enumerate(data.devices):
        points = np.arange(d.num_points) if parts is None else np.array([parts[i]])
        best = np.full(d.num_points, np.inf)
        best[points] = robust_latency(
            d.a,
            d.s,
            d.mu_e,
            d.var_e,
            d.bits,
            d.f_max,
            data.bandwidth,
            d.snr_per_hz,
            d.margin,
            d.c,
            d.q,
            d.max_se,
        )[points]
        m = int(np.argmin(best))
        if best[m] > d.deadline:
            where = (
                "all-local"
                if m == d.num_points - 1
                else "all-offload"
                if m == 0
                else f"split after layer {m}"
            )
            where = where if parts is not None else f"at its best split ({where})"
            lines.append(
                f"device '{d.name}' cannot meet {d.deadline * 1e3:.3g} ms with probability "
                f"{1 - d.epsilon:.3g} even {where} at f_max with the whole bandwidth: needs "
                f">= {best[m] * 1e3:.4g} ms"
            )
        single = RobustData(data.instance, data.bandwidth, [d], data.margin_rule)
        needs.append(float(np.min(_Batch(single, points[:, None]).min_bandwidth())))
    what = "their given split" if parts is not None else "their least demanding split"
    if lines:
        return "; ".join(lines)
    total = sum(needs)
    if total > data.bandwidth:
        return (
            f"each device can meet its deadline alone, but together they need at least "
            f"{total / 1e6:.4g} MHz of uplink (each at f_max and {what}) "
            f"and B is {data.bandwidth / 1e6:.4g} MHz"
        )
    return None
