"""Gantt chart of a schedule: one row per core or link, with matplotlib (no display needed).

A cumulative resource (C cores, K resource blocks) gets as many rows ("lanes") as it
has tasks running at once, so overlapping tasks never hide each other.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from optsplit.errors import InputError
from optsplit.timeline.model import IntArray, Timeline, format_time
from optsplit.timeline.validate import start_times

COLOURS = {"compute": "#4c72b0", "link": "#dd8452"}
OTHER_COLOUR = "#55a868"
MAX_LABELS = 400  # bar labels drawn at most (the widest bars first)
CHAR_WIDTH = 0.6  # average glyph width, in units of the font size


def assign_lanes(start: ArrayLike, finish: ArrayLike) -> IntArray:
    """Lane per interval so no lane holds two overlapping intervals, lowest free lane first.

    Greedy by start time: it uses exactly as many lanes as intervals overlap at the
    busiest moment (interval graphs are perfect); touching intervals share a lane.
    """
    s, f = np.asarray(start, np.float64), np.asarray(finish, np.float64)
    lanes = np.zeros(s.size, dtype=np.int64)
    busy: list[tuple[float, int]] = []  # (finish, lane) of lanes in use
    free: list[int] = []
    opened = 0
    for i in np.lexsort((f, s)).tolist():
        while busy and busy[0][0] <= s[i]:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane = heapq.heappop(free)
        else:
            lane, opened = opened, opened + 1
        lanes[i] = lane
        heapq.heappush(busy, (float(f[i]), lane))
    return lanes


def _unit(span: float) -> tuple[float, str]:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if span >= scale:
            return scale, unit
    return 1e-9, "ns"


def draw_gantt(
    timeline: Timeline,
    starts: ArrayLike | Mapping[str, float],
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Draw the schedule to ``path`` (format from its suffix, e.g. .png); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tl = timeline
    start = start_times(tl, starts)
    finish = tl.finish(start)
    never = np.flatnonzero(~np.isfinite(finish))
    if never.size:
        raise InputError(f"cannot draw: {tl.noun(int(never[0]))} never completes", path="starts")
    makespan = float(finish.max()) if tl.n_tasks else 0.0
    scale, unit = _unit(makespan)

    row = np.zeros(tl.n_tasks, dtype=np.int64)
    labels: list[str] = []
    for k, res in enumerate(tl.resources):
        mine = np.flatnonzero(tl.resource == k)
        lanes = assign_lanes(start[mine], finish[mine])
        count = int(lanes.max()) + 1 if mine.size else 1
        row[mine] = len(labels) + lanes
        labels.extend(res.name if count == 1 else f"{res.name} #{lane + 1}" for lane in range(count))

    fig = Figure(figsize=(11, 1.2 + 0.45 * len(labels)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    kinds = [tl.resources[k].kind for k in tl.resource.tolist()]
    colours = [COLOURS.get(kind, OTHER_COLOUR) for kind in kinds]
    width = (finish - start) / scale
    ax.barh(row, width, left=start / scale, height=0.7, color=colours, edgecolor="black", linewidth=0.4)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(max(len(labels), 1) - 0.5, -0.5)
    ax.set_xlim(0, max(makespan / scale, 1e-12) * 1.04)
    ax.set_xlabel(f"time [{unit}]")
    ax.axvline(makespan / scale, color="#c44e52", linestyle="--", linewidth=1.2)
    ax.text(
        makespan / scale, -0.5, f" makespan {format_time(makespan)}", color="#c44e52", va="bottom", fontsize=9
    )
    if title:
        ax.set_title(title, pad=16)

    # A label is drawn inside its bar when the text fits the bar's width on the page.
    fontsize = 7.0
    axis_points = fig.get_figwidth() * 72 * 0.85
    room = width / (ax.get_xlim()[1] or 1.0) * axis_points
    need = np.array([len(name) for name in tl.names]) * fontsize * CHAR_WIDTH
    fits = np.flatnonzero(room >= need + 2)
    for i in fits[np.argsort(-room[fits], kind="stable")][:MAX_LABELS].tolist():
        ax.text(
            (start[i] + finish[i]) / 2 / scale,
            row[i],
            tl.names[i],
            ha="center",
            va="center",
            fontsize=fontsize,
            color="white",
            clip_on=True,
        )
    out = Path(path)
    fig.savefig(out, dpi=110)
    return out
