"""Receptive-field arithmetic along the split dimension: which input rows a slice of output needs.

A windowed operator (conv or pooling, along the split dimension: kernel k, stride s, padding p,
dilation d, span e = d(k - 1) + 1) makes output row o from input rows o·s − p + j·d, j < k,
those outside [0, L) being padding. Hence, exactly:

* output length from L input rows:       g(L) = ⌊(L + 2p − e) / s⌋ + 1
* input rows of output rows [a, b):       [max(0, a·s − p), min(L, (b − 1)·s − p + e)),  a < b
  (undilated windows with p < k; with dilation, the taps of a border row can skip rows, and
  ``Window.input_rows`` finds the rows actually read, tap by tap)
* input rows for n output rows, inside the tensor (no padding reached):  (n − 1)·s + e
* smallest input for n output rows in all (padding on both sides):      (n − 1)·s + e − 2p

Intra-DP's code uses n·s + k − 1 − 2p for the last (undilated); it equals the exact figure when
s = 1 and exceeds it by s − 1 otherwise. Through a stack, each side computes a contiguous tile
of every intermediate tensor, so the rows are propagated one operator at a time, taking the
range read and clipping at every level (clipping only at the input would over-count: a pooling
2/2 on an odd length never reads its last row). Ranges are half-open; an empty range maps to an
empty range.

Slices: the device computes the first rows of a tensor, the server the rest. With a share x on
the device, the device holds rows [0, m), m = ⌊x·L + 1/2⌋. Where consecutive shares differ, the
rows one side needs and the other holds cross the link, halo included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from optsplit.profiles.operators import OperatorGraph

IntArray = np.ndarray


@dataclass(frozen=True)
class Window:
    """A sliding window along one dimension; the default is the identity (per-row operators)."""

    kernel: int = 1
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    def __post_init__(self) -> None:
        if self.kernel < 1 or self.stride < 1 or self.padding < 0 or self.dilation < 1:
            raise ValueError(f"not a window: {self}")

    @property
    def span(self) -> int:
        """Rows from the first to the last tap of one output row, inclusive."""
        return self.dilation * (self.kernel - 1) + 1

    def out_length(self, length: int | IntArray) -> IntArray:
        """g(L): output rows made from L input rows (0 when the window does not fit, or L = 0)."""
        n = np.asarray(length)
        return np.where(n > 0, np.maximum((n + 2 * self.padding - self.span) // self.stride + 1, 0), 0)

    def min_input_length(self, n: int | IntArray) -> IntArray:
        """Smallest L with g(L) ≥ n (n ≥ 1): (n − 1)·s + e − 2p, at least 1; 0 for n = 0."""
        n = np.asarray(n)
        need = np.maximum((n - 1) * self.stride + self.span - 2 * self.padding, 1)
        return np.where(n > 0, need, 0)

    def interior_rows(self, n: int | IntArray) -> IntArray:
        """Input rows n consecutive output rows read away from the borders: (n − 1)·s + e."""
        n = np.asarray(n)
        return np.where(n > 0, (n - 1) * self.stride + self.span, 0)

    def input_rows(
        self, a: int | IntArray, b: int | IntArray, length: int | IntArray
    ) -> tuple[IntArray, IntArray]:
        """Rows [lo, hi) of an input of ``length`` rows that output rows [a, b) read (vectorised,
        ``length`` too, so that many tensors read through one window take one call): the
        smallest range holding every row read. Exact at the borders, for any padding and
        dilation: each tap j reads rows o·s + j·d − p, an arithmetic progression over o."""
        a, b, length = np.broadcast_arrays(
            np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64), np.asarray(length, dtype=np.int64)
        )
        lo = length.copy()
        hi = np.zeros(a.shape, dtype=np.int64)
        for j in range(self.kernel):
            c = j * self.dilation - self.padding
            first_o = np.maximum(a, -(c // self.stride))  # first row whose tap j is >= 0
            first = first_o * self.stride + c
            lo = np.where((first_o < b) & (first < length), np.minimum(lo, first), lo)
            last_o = np.minimum(b - 1, (length - 1 - c) // self.stride)  # last whose tap j < L
            last = last_o * self.stride + c
            hi = np.where((last_o >= a) & (last >= 0), np.maximum(hi, last + 1), hi)
        empty = hi <= lo
        at = np.clip(a * self.stride - self.padding, 0, length)
        return np.where(empty, at, lo), np.where(empty, at, hi)


IDENTITY = Window()


def stack_lengths(windows: Sequence[Window], length: int) -> list[int]:
    """Row counts of the stack's input and of every output, first to last."""
    out = [length]
    for w in windows:
        out.append(int(w.out_length(out[-1])))
    return out


def stack_input_rows(
    windows: Sequence[Window], a: int | IntArray, b: int | IntArray, length: int
) -> tuple[IntArray, IntArray]:
    """Input rows [lo, hi) that output rows [a, b) of the last window of the stack read."""
    lengths = stack_lengths(windows, length)
    lo, hi = np.asarray(a), np.asarray(b)
    for w, n in zip(reversed(windows), reversed(lengths[:-1])):
        lo, hi = w.input_rows(lo, hi, n)
    return lo, hi


def receptive_field(windows: Sequence[Window]) -> Window:
    """The stack as one window, ignoring borders: stride Πs, padding Σ p_i Π_{j<i} s_j,
    span 1 + Σ (e_i − 1) Π_{j<i} s_j (equal to stack_input_rows wherever no clipping occurs)."""
    stride, padding, span = 1, 0, 1
    for w in windows:
        padding += w.padding * stride
        span += (w.span - 1) * stride
        stride *= w.stride
    return Window(span, stride, padding)


def device_rows(x: float | np.ndarray, length: int) -> IntArray:
    """Rows [0, m) of a tensor of ``length`` rows the device computes at share x: m = ⌊xL + ½⌋."""
    return np.floor(np.asarray(x) * length + 0.5).astype(np.int64)


def exchange_rows(
    held: int | IntArray,
    device_need: tuple[IntArray, IntArray],
    server_need: tuple[IntArray, IntArray],
) -> tuple[IntArray, IntArray]:
    """(rows up, rows down) when the device holds rows [0, held), the server the rest, and each
    side needs the given [lo, hi): up = server's need below ``held``, down = device's above."""
    held = np.asarray(held)
    d_lo, d_hi = device_need
    s_lo, s_hi = server_need
    up = np.maximum(np.minimum(s_hi, held) - s_lo, 0)
    down = np.maximum(d_hi - np.maximum(d_lo, held), 0)
    return up, down


@dataclass(frozen=True)
class SliceTransfer:
    """Rows and bytes crossing the link at one exchange, and what the halo adds."""

    up_rows: IntArray
    down_rows: IntArray
    up_bytes: IntArray
    down_bytes: IntArray
    halo_rows: IntArray  # rows sent beyond the plain difference of the shares


def slice_transfer(
    windows: Sequence[Window],
    length: int,
    row_bytes: int,
    x_have: float | np.ndarray,
    x_need: float | np.ndarray,
) -> SliceTransfer:
    """The transfer when a tensor of ``length`` rows split at share ``x_have`` feeds a stack
    whose last output the device computes at share ``x_need`` (vectorised over shares)."""
    out_length = stack_lengths(windows, length)[-1]
    m_out = device_rows(x_need, out_length)
    device_need = stack_input_rows(windows, 0, m_out, length)
    server_need = stack_input_rows(windows, m_out, out_length, length)
    held = device_rows(x_have, length)
    up, down = exchange_rows(held, device_need, server_need)
    plain = np.abs(held - device_rows(x_need, length))
    return SliceTransfer(up, down, up * row_bytes, down * row_bytes, up + down - plain)


def graph_windows(graph: OperatorGraph) -> list[Window | None]:
    """Each operator's window along the rows: its own for conv/pooling, the identity for other
    local operators, None for barriers (they need their inputs whole)."""
    out: list[Window | None] = []
    for op in graph.operators:
        if op.split_dim is None:
            out.append(None)
        elif op.windowed:
            assert op.kernel is not None and op.stride is not None and op.padding is not None
            out.append(Window(op.kernel, op.stride, op.padding, op.dilation))
        else:
            out.append(IDENTITY)
    return out


def graph_rows_needed(
    graph: OperatorGraph,
    targets: Mapping[str, tuple[int | IntArray, int | IntArray]],
    stop: frozenset[str] = frozenset(),
) -> dict[str, tuple[IntArray, IntArray]]:
    """Rows of every tensor needed to produce the ``targets`` (operator → output rows [a, b)).

    Needs travel backwards through the DAG; a tensor read by several operators must supply the
    hull of their needs. Operators in ``stop`` (where an exchange supplies their output) keep
    their own need but pass none upstream. Barriers need their inputs whole. Vectorised: the
    bounds may be arrays of one shape, one entry per alternative slicing. Keys: operator names
    and ``INPUT``; a tensor that nothing needs has lo = hi.
    """
    windows = graph_windows(graph)
    idx = graph.index()
    shape = np.broadcast(*(np.asarray(v) for pair in targets.values() for v in pair)).shape
    big = np.iinfo(np.int64).max
    lo = {name: np.full(shape, big, dtype=np.int64) for name in idx}
    hi = {name: np.zeros(shape, dtype=np.int64) for name in idx}

    def merge(name: str, a: IntArray, b: IntArray) -> None:
        some = b > a
        lo[name] = np.where(some, np.minimum(lo[name], a), lo[name])
        hi[name] = np.where(some, np.maximum(hi[name], b), hi[name])

    for name, (a, b) in targets.items():
        merge(name, np.broadcast_to(a, shape), np.broadcast_to(b, shape))
    for j in range(len(graph.operators) - 1, -1, -1):
        op = graph.operators[j]
        if op.name in stop:
            continue
        needed = hi[op.name] > lo[op.name]
        w = windows[j]
        for src in op.inputs:
            rows = rows_of(graph, src)
            if w is None:
                a, b = np.zeros(shape, dtype=np.int64), np.full(shape, rows, dtype=np.int64)
            else:
                a, b = w.input_rows(np.where(needed, lo[op.name], 0), np.where(needed, hi[op.name], 0), rows)
            merge(src, np.where(needed, a, 0), np.where(needed, b, 0))
    return {
        name: (np.where(hi[name] > lo[name], lo[name], 0), np.where(hi[name] > lo[name], hi[name], 0))
        for name in idx
    }


def rows_of(graph: OperatorGraph, name: str) -> int:
    """Row count of a tensor of the graph (1 for flat tensors)."""
    shape = graph.shape(name)
    return shape[1] if len(shape) == 3 else 1
