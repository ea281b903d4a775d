"""Intra-DP's two-clock / two-link recursion (C.4), vectorised over many plans at once.

Positions in order; the device clock D and server clock S add their compute; a tensor whose
rows cross up is sent when the device has computed it and the uplink is free (clock U), and
the server's next position waits for it; downwards symmetrically (clock W). The latency is
the device clock at ``end``. This is the sweep the shared schedule engine performs on the
same tasks (``optsplit.timeline.earliest``); the planners use this form to score thousands
of candidate plans per call, the evaluator the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsplit.formulations.intradp.data import IntraDPData
from optsplit.formulations.intradp.slicing import Exchange
from optsplit.tolerances import PLAN_RELATIVE


@dataclass(frozen=True)
class Durations:
    """Per plan and position: device and server compute, uplink and downlink airtime (s)."""

    dev: np.ndarray
    srv: np.ndarray
    up: np.ndarray
    down: np.ndarray


def durations(data: IntraDPData, m: np.ndarray, ex: Exchange) -> Durations:
    """Task durations of plans given as device rows m (K, P) and the rows they exchange."""
    m = np.atleast_2d(m)
    frac = m / data.rows
    return Durations(
        data.t_dev * frac,
        data.t_srv * (1.0 - frac),
        ex.up_rows * data.row_bytes / data.up_rate,
        ex.down_rows * data.row_bytes / data.down_rate,
    )


def latency(d: Durations) -> np.ndarray:
    """The recursion's latency per plan (the device clock after ``end``).

    Only the clocks at the positions where some plan sends matter here, so each run between
    them is one sum (``clocks`` explains why): a loop over runs of (K,) vectors.
    """
    k, p = d.dev.shape
    has_up, has_down = d.up > 0, d.down > 0
    ends = np.unique(np.r_[np.flatnonzero(has_up.any(axis=0) | has_down.any(axis=0)), p - 1])
    starts = np.r_[0, ends[:-1] + 1]
    dev_sum = np.add.reduceat(d.dev, starts, axis=1)
    srv_sum = np.add.reduceat(d.srv, starts, axis=1)
    dev_c, srv_c, up_c, down_c = (np.zeros(k) for _ in range(4))
    for r, last in enumerate(ends.tolist()):
        dev_c = np.maximum(dev_c, down_c) + dev_sum[:, r]
        srv_c = np.maximum(srv_c, up_c) + srv_sum[:, r]
        up_c = np.where(has_up[:, last], np.maximum(up_c, dev_c) + d.up[:, last], up_c)
        down_c = np.where(has_down[:, last], np.maximum(down_c, srv_c) + d.down[:, last], down_c)
    return dev_c


def clocks(d: Durations) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Device, server, uplink, downlink clocks (K, P) after every position.

    Between positions where some plan sends rows, the link clocks stand still, and once the
    device clock has passed the downlink clock it stays past it (durations are ≥ 0), so over
    such a run D and S are running sums from max(D, W) and max(S, U): one cumulative sum per
    run instead of a step per position (ResNet-152: a few dozen runs for 517 positions).
    """
    k, p = d.dev.shape
    out = np.zeros((4, k, p))
    dev_c = np.zeros(k)
    srv_c = np.zeros(k)
    up_c = np.zeros(k)
    down_c = np.zeros(k)
    has_up, has_down = d.up > 0, d.down > 0
    sends = np.flatnonzero(has_up.any(axis=0) | has_down.any(axis=0))
    first = 0
    for last in [*sends.tolist(), p - 1]:
        if last < first:  # the last position sends: its run is already done
            break
        run = slice(first, last + 1)
        dev_run = np.cumsum(np.column_stack((np.maximum(dev_c, down_c), d.dev[:, run])), axis=1)[:, 1:]
        srv_run = np.cumsum(np.column_stack((np.maximum(srv_c, up_c), d.srv[:, run])), axis=1)[:, 1:]
        out[0, :, run], out[1, :, run] = dev_run, srv_run
        out[2, :, run], out[3, :, run] = up_c[:, None], down_c[:, None]
        dev_c, srv_c = dev_run[:, -1], srv_run[:, -1]
        up_c = np.where(has_up[:, last], np.maximum(up_c, dev_c) + d.up[:, last], up_c)
        down_c = np.where(has_down[:, last], np.maximum(down_c, srv_c) + d.down[:, last], down_c)
        out[2, :, last], out[3, :, last] = up_c, down_c
        first = last + 1
    return out[0], out[1], out[2], out[3]


@dataclass(frozen=True)
class Figures:
    """Latency, device energy and its parts, per plan."""

    latency: np.ndarray
    energy: np.ndarray
    busy: np.ndarray
    airtime_up: np.ndarray
    airtime_down: np.ndarray


def figures(data: IntraDPData, m: np.ndarray, ex: Exchange) -> Figures:
    """Latency and energy E = P_c·busy + P_idle·(T − busy) + P_tx·airtime_up + P_rx·airtime_down."""
    d = durations(data, m, ex)
    t = latency(d)
    busy, a_up, a_down = d.dev.sum(axis=1), d.up.sum(axis=1), d.down.sum(axis=1)
    pw = data.power
    energy = pw.compute * busy + pw.idle * (t - busy) + pw.transmit * a_up + pw.receive * a_down
    return Figures(t, energy, busy, a_up, a_down)


def objective(data: IntraDPData, f: Figures) -> np.ndarray:
    """The instance's objective per plan; +inf where the latency bound is broken."""
    if data.objective == "latency":
        return f.latency
    assert data.latency_bound is not None
    ok = f.latency <= data.latency_bound * (1 + PLAN_RELATIVE)
    return np.where(ok, f.energy, np.inf)
