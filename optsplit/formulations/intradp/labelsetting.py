"""Exact grid optimum by label setting: dynamic programming over positions with dominance.

Positions are processed in schedule order. A *label* is a partial plan: the grid levels of its
*frontier* (unprocessed positions whose level is already fixed because a processed producer
needed it to know which rows cross), the four clocks of the recursion C.4 (device D, server S,
uplink U, downlink W) after the last processed position and, for the energy objective, the
energy accrued so far. Processing position j fixes the levels of j's consumers not yet fixed,
computes j's compute and exchange durations from the grid tables and advances the clocks
exactly as ``recursion.clocks`` does.

Why it is exact: the recursion is monotone in every clock and the accrued energy, so of two
labels with equal frontier levels, one no better in any component can be dropped (dominance);
and a label whose lower bound on the final objective comes within a relative ``PRUNE_SLACK`` of
a known plan's value cannot lead to a plan better by more than that (bounding). What survives
the last position is therefore the optimum over the grid {0, 1/G, …, 1} (or, if nothing
survives, the known plan is optimal to that slack); at an earlier stop, the least lower bound
among the live labels is a proven bound. The state space is the product of the frontier's
level counts: ResNet chains keep at most two tensors open (the block input for the residual
add), DenseNet's concatenations keep many, and the method refuses graphs whose frontier exceeds
``max_states``.

Lower bound of a label (``FluidBound``): after position j the device still computes Σ x_i t^d_i
and the server Σ (1 − x_i) t^s_i over the later positions, from no earlier than A = max(D, W)
and B = max(S, U). The latency is at least A plus the device's part. It is also at least B plus
the server's part when every row the server holds must eventually travel down: each tensor's
last row is read by some consumer computing its last output row, and every row has bytes.
Then a server tile of tensor p holds p's last row, the consumer reading it is either on the
device (rows go down after the server clock passed p) or holds its own last row on the server,
and so on until ``end`` on the device; an upload feeds a consumer whose server part waits for
it, so the same chain covers U. The least over x ∈ [0, 1]^n of the larger of the two parts is
a fractional two-machine assignment, solved by taking positions in order of t^d/t^s.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import numpy as np

from optsplit.errors import SolverError
from optsplit.formulations.intradp.data import IntraDPData
from optsplit.formulations.intradp.slicing import GridTables
from optsplit.tolerances import PLAN_RELATIVE

log = logging.getLogger(__name__)
DEFAULT_MAX_STATES = 50_000  # level combinations of one frontier the method accepts
PRUNE_SLACK = 1e-9  # a label must promise a relative gain over the incumbent larger than this
CHUNK = 256  # labels compared at once in the dominance filter


class FrontierTooLarge(SolverError):
    """The graph keeps too many tensors open at once for the label-setting method."""


@dataclass(frozen=True)
class Step:
    """Position j: its frontier before, the consumers whose level it fixes, the frontier after."""

    position: int
    before: tuple[int, ...]
    new: tuple[int, ...]
    after: tuple[int, ...]


def schedule(data: IntraDPData, tables: GridTables, max_states: int) -> list[Step]:
    """The frontier of every step; raises ``FrontierTooLarge`` past ``max_states`` level states."""
    counts = tables.allowed.sum(axis=1)
    consumers = [tuple(dict.fromkeys(data.edge_dst[es].tolist())) for es in data.out_edges]
    frontier: tuple[int, ...] = (0,)
    steps = []
    for j in range(data.n_positions):
        new = tuple(c for c in consumers[j] if c not in frontier)
        after = tuple(p for p in frontier if p != j) + new
        states = int(np.prod(counts[list(after)], dtype=np.float64)) if after else 1
        if states > max_states:
            raise FrontierTooLarge(
                f"after '{data.names[j]}' the plan keeps {len(after)} tensors open "
                f"({states} level combinations, limit {max_states}): the label-setting method "
                "does not fit this graph"
            )
        steps.append(Step(j, frontier, new, after))
        frontier = after
    return steps


@dataclass(frozen=True, eq=False)
class FluidBound:
    """Per position j, the ratio-ordered cumulative work of the positions after j."""

    cum_dev: tuple[np.ndarray, ...]
    cum_srv: tuple[np.ndarray, ...]
    server_side: bool  # whether B + server work bounds the latency (see the module docstring)

    @classmethod
    def of(cls, data: IntraDPData) -> FluidBound:
        """The tables of ``data``, and whether its graph admits the server-side term."""
        dev, srv = data.t_dev, data.t_srv
        ratio = np.where(srv > 0, dev / np.where(srv > 0, srv, 1.0), np.inf)
        cd, cs = [], []
        for j in range(data.n_positions):
            order = j + 1 + np.argsort(ratio[j + 1 :], kind="stable")
            cd.append(np.r_[0.0, np.cumsum(dev[order])])
            cs.append(np.r_[0.0, np.cumsum(srv[order])])
        return cls(tuple(cd), tuple(cs), _server_rows_reach_device(data))

    def latency(self, j: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Least final latency of labels with A = a, B = b after position j (vectorised)."""
        cd, cs = self.cum_dev[j], self.cum_srv[j]
        if not self.server_side:
            return a
        if cd.size == 1:  # nothing left to compute
            return np.maximum(a, b)
        total = cs[-1]
        f = cd + cs  # rises with the number k of positions given to the device
        need = b - a + total  # device load a + cd[k] meets server load b + total − cs[k]
        k = np.clip(np.searchsorted(f, need), 1, f.size - 1)
        lo = k - 1
        span = f[k] - f[lo]
        lam = np.clip(np.where(span > 0, (need - f[lo]) / np.where(span > 0, span, 1.0), 1.0), 0.0, 1.0)
        dev_load = a + cd[lo] + lam * (cd[k] - cd[lo])
        srv_load = b + total - cs[lo] - lam * (cs[k] - cs[lo])
        return np.maximum(dev_load, srv_load)


def _server_rows_reach_device(data: IntraDPData) -> bool:
    """Whether every tensor's last row is read by a consumer computing its last output row,
    and every row has bytes: then rows left on the server always travel down before the end."""
    has_consumer = np.zeros(data.n_positions, dtype=bool)
    has_consumer[data.edge_src] = True
    if not np.all(data.row_bytes[has_consumer] > 0):
        return False
    reaches = np.zeros(data.n_positions, dtype=bool)
    for p, c in zip(data.edge_src.tolist(), data.edge_dst.tolist(), strict=True):
        window = data.windows[c]
        if window is None:
            reaches[p] = True
            continue
        _, hi = window.input_rows(data.rows[c] - 1, data.rows[c], data.rows[p])
        reaches[p] |= bool(hi >= data.rows[p])
    return bool(np.all(reaches[has_consumer]))


@dataclass
class Outcome:
    """What the search ends with: the best grid levels found (or None), value, proven bound."""

    levels: np.ndarray | None
    value: float
    bound: float
    complete: bool
    stopped: str = ""  # "time_limit", "label_limit" or "interrupted" when not complete
    labels_peak: int = 0
    labels_total: int = 0


def advance(
    lab: np.ndarray, dev: np.ndarray, srv: np.ndarray, tu: np.ndarray, td: np.ndarray
) -> list[np.ndarray]:
    """Clocks after one position, in the canonical form the labels keep.

    The recursion's D enters the future only through A = max(D, W) and S only through
    B = max(S, U); U only through B and through max(U, D_k) at the next send k, where
    D_k ≥ A, so Ũ = max(U, A) serves; likewise W̃ = max(W, B). Labels that differ only in a
    link clock already overtaken therefore coincide, which dominance needs.
    """
    d_clock = lab[:, 0] + dev
    s_clock = lab[:, 1] + srv
    u_clock = np.where(tu > 0, np.maximum(lab[:, 2], d_clock) + tu, lab[:, 2])
    w_clock = np.where(td > 0, np.maximum(lab[:, 3], s_clock) + td, lab[:, 3])
    a_clock = np.where(td > 0, np.maximum(d_clock, w_clock), d_clock)
    b_clock = np.where(tu > 0, np.maximum(s_clock, u_clock), s_clock)
    return [a_clock, b_clock, np.maximum(u_clock, a_clock), np.maximum(w_clock, b_clock)]


def pareto_keep(x: np.ndarray) -> np.ndarray:
    """Mask of the rows of x (sorted by row sum, ascending) no earlier row dominates."""
    n = x.shape[0]
    keep = np.ones(n, dtype=bool)
    for start in range(0, n, CHUNK):
        chunk = x[start : start + CHUNK]
        front = x[:start][keep[:start]]
        dominated = np.zeros(chunk.shape[0], dtype=bool)
        if front.shape[0]:
            dominated |= np.any(np.all(front[None, :, :] <= chunk[:, None, :], axis=2), axis=1)
        inner = np.all(chunk[None, :, :] <= chunk[:, None, :], axis=2)
        inner &= np.tri(chunk.shape[0], k=-1, dtype=bool)
        dominated |= np.any(inner, axis=1)
        keep[start : start + CHUNK] = ~dominated
    return keep


class LabelSetting:
    """The search over one instance and grid; ``run`` returns an ``Outcome``."""

    def __init__(self, data: IntraDPData, tables: GridTables, max_states: int = DEFAULT_MAX_STATES):
        self.data, self.tables = data, tables
        self.steps = schedule(data, tables, max_states)
        self.bound_of = FluidBound.of(data)
        self.levels = [np.flatnonzero(tables.allowed[j]) for j in range(data.n_positions)]
        self.energy = data.objective == "energy"
        pw = data.power
        self.rest_dev = np.r_[np.cumsum(data.t_dev[::-1])[::-1][1:], 0.0]  # device work after j
        self.accrue_floor = min(0.0, pw.compute - pw.idle)
        bound = data.latency_bound if self.energy else None  # as ``recursion.objective`` reads it
        self.t_cap = np.inf if bound is None else bound * (1 + PLAN_RELATIVE)

    def _lower_bound(self, j: int, lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least final latency and objective of labels after position j."""
        t_lb = self.bound_of.latency(j, lab[:, 0], lab[:, 1])
        if not self.energy:
            return t_lb, t_lb
        obj = lab[:, 4] + self.accrue_floor * self.rest_dev[j] + self.data.power.idle * t_lb
        return t_lb, obj

    def run(
        self, incumbent: float = np.inf, deadline: float | None = None, max_labels: int | None = None
    ) -> Outcome:
        """Process every position, bounding by ``incumbent`` (a known plan's objective); stop
        early at ``deadline`` (perf_counter), past ``max_labels`` labels made, or on Ctrl-C."""
        cut = incumbent * (1 - PRUNE_SLACK)
        labels = np.zeros((1, 5 if self.energy else 4))
        lv = np.array([[self.tables.grid]], dtype=np.int64)  # the input: all on the device
        at = -1  # position the labels stand after
        history: list[tuple[np.ndarray, np.ndarray]] = []
        peak = total = 1
        t0 = time.perf_counter()
        try:
            for st in self.steps:
                if deadline is not None and time.perf_counter() > deadline:
                    return self._stopped("time_limit", at, labels, incumbent, peak, total)
                new, new_lv, parent, picked = self._expand(st, labels, lv, cut)
                keep = self._dominance(new, new_lv)
                history.append((parent[keep], picked[keep]))
                labels, lv, at = new[keep], new_lv[keep], st.position
                peak, total = max(peak, labels.shape[0]), total + labels.shape[0]
                if at % 50 == 0:
                    log.info(
                        "dp: position %d, %d labels, %.2f s", at, labels.shape[0], time.perf_counter() - t0
                    )
                if labels.shape[0] == 0:
                    break
                if max_labels is not None and total > max_labels and at < self.data.n_positions - 1:
                    return self._stopped("label_limit", at, labels, incumbent, peak, total)
        except KeyboardInterrupt:
            return self._stopped("interrupted", at, labels, incumbent, peak, total)
        if labels.shape[0] == 0:  # no plan beats the incumbent by more than the slack
            return Outcome(None, np.inf, cut, True, labels_peak=peak, labels_total=total)
        # After ``end``, A is the device clock there (the latency); survivors meet the bound.
        final = labels[:, 0] if not self.energy else labels[:, 4] + self.data.power.idle * labels[:, 0]
        best = int(np.argmin(final))
        value = float(final[best])
        return Outcome(self._trace(history, best), value, value, True, labels_peak=peak, labels_total=total)

    def _expand(
        self, st: Step, labels: np.ndarray, lv: np.ndarray, cut: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every label × every level choice for the consumers position ``st`` fixes, advanced
        over the position and bounded: (labels, frontier levels, parent index, choice)."""
        data, tab, j = self.data, self.tables, st.position
        combos = (
            np.array(list(itertools.product(*(self.levels[c] for c in st.new))), dtype=np.int64)
            if st.new
            else np.zeros((1, 0), dtype=np.int64)
        )
        n, k = labels.shape[0], combos.shape[0]
        parent, choice = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
        level_of = {p: lv[parent, i] for i, p in enumerate(st.before)}
        level_of.update({c: combos[choice, i] for i, c in enumerate(st.new)})
        m_j = tab.m[j, level_of[j]]
        frac = m_j / data.rows[j]
        dev, srv = data.t_dev[j] * frac, data.t_srv[j] * (1.0 - frac)
        up = np.zeros(parent.size, dtype=np.int64)
        down = np.zeros(parent.size, dtype=np.int64)
        for e in data.out_edges[j]:
            h = level_of[int(data.edge_dst[e])]
            up = np.maximum(up, m_j - tab.lo[e, h])
            down = np.maximum(down, tab.hi[e, h] - m_j)
        tu = up * data.row_bytes[j] / data.up_rate
        td = down * data.row_bytes[j] / data.down_rate
        old = labels[parent]  # A, B, Ũ, W̃ (see ``advance``) and the energy accrued
        cols = advance(old, dev, srv, tu, td)
        if self.energy:
            pw = data.power
            cols.append(old[:, 4] + (pw.compute - pw.idle) * dev + pw.transmit * tu + pw.receive * td)
        new = np.column_stack(cols)
        t_lb, obj_lb = self._lower_bound(j, new)
        alive = (t_lb <= self.t_cap) & (obj_lb < cut)
        new_lv = np.zeros((int(alive.sum()), len(st.after)), dtype=np.int64)
        for i, p in enumerate(st.after):
            new_lv[:, i] = level_of[p][alive]
        return new[alive], new_lv, parent[alive], combos[choice[alive]]

    def _dominance(self, lab: np.ndarray, lv: np.ndarray) -> np.ndarray:
        """Mask of the labels no label with the same frontier levels dominates."""
        if lab.shape[0] <= 1:
            return np.ones(lab.shape[0], dtype=bool)
        key = (
            np.unique(lv, axis=0, return_inverse=True)[1].ravel()
            if lv.shape[1]
            else np.zeros(lab.shape[0], int)
        )
        order = np.lexsort((lab.sum(axis=1), key))
        keep = np.zeros(lab.shape[0], dtype=bool)
        bounds = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            idx = order[a:b]
            keep[idx] = pareto_keep(lab[idx]) if b - a > 1 else True
        return keep

    def _trace(self, history: list[tuple[np.ndarray, np.ndarray]], index: int) -> np.ndarray:
        """Grid level of every position on the path to the label ``index`` of the last step."""
        levels = np.full(self.data.n_positions, self.tables.grid, dtype=np.int64)
        for st, (parent, picked) in zip(reversed(self.steps[: len(history)]), reversed(history), strict=True):
            for i, c in enumerate(st.new):
                levels[c] = picked[index, i]
            index = int(parent[index])
        return levels

    def _stopped(
        self, why: str, at: int, labels: np.ndarray, incumbent: float, peak: int, total: int
    ) -> Outcome:
        """A stop before the end: every better plan passes through a live label, so the least
        lower bound among them (or the incumbent, if less) is proven."""
        bound = incumbent
        if labels.shape[0]:
            bound = 0.0 if at < 0 else float(min(incumbent, self._lower_bound(at, labels)[1].min()))
        return Outcome(None, np.inf, bound, False, why, peak, total)
