"""Piecewise-constant rates: when do bits sent from a given time arrive?

A wireless link whose rate changes per slot (ENACHI's per-slot power and fading) or when
resource blocks are re-assigned (O-WiN) delivers data at a rate r(t) that is constant on
intervals. The cumulative delivery C(t) = ∫ r is then piecewise linear and non-decreasing,
so "b bits sent from time s are in at F" is F = min{t : C(t) ≥ C(s) + b}, found for many
transfers at once with one ``searchsorted``. F is non-decreasing in s (FIFO: starting
later never finishes earlier), which is what lets the schedule engine treat such a transfer
as a task whose finish is a function of its start.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optsplit.errors import InputError

FloatArray = NDArray[np.float64]


def _vector(values: ArrayLike, path: str) -> FloatArray:
    array = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if array.ndim != 1 or array.size == 0:
        raise InputError(f"expected a non-empty list of numbers, got shape {array.shape}", path=path)
    bad = np.flatnonzero(~np.isfinite(array) | (array < 0))
    if bad.size:
        raise InputError(f"must be finite and ≥ 0, got {array[bad[0]]}", path=f"{path}[{bad[0]}]")
    return array


@dataclass(frozen=True, eq=False)
class RateProfile:
    """Rate ``rates[i]`` (bits/s) on [times[i], times[i+1]); the last rate holds for ever.

    Nothing is delivered before ``times[0]``. ``cumulative[i]`` = bits delivered from
    ``times[0]`` to ``times[i]``.
    """

    times: FloatArray
    rates: FloatArray
    cumulative: FloatArray

    @classmethod
    def steps(cls, times: ArrayLike, rates: ArrayLike) -> RateProfile:
        """Profile from breakpoints (strictly increasing, ≥ 0) and the rate from each one on."""
        t = _vector(times, "times")
        r = _vector(rates, "rates")
        if t.size != r.size:
            raise InputError(f"{t.size} breakpoints but {r.size} rates", path="rates")
        if t.size > 1 and not np.all(np.diff(t) > 0):
            k = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
            raise InputError(
                f"breakpoints must increase strictly, got {t[k - 1]} then {t[k]}", path=f"times[{k}]"
            )
        cum = np.concatenate(([0.0], np.cumsum(r[:-1] * np.diff(t))))
        for a in (t, r, cum):
            a.setflags(write=False)
        return cls(t, r, cum)

    @classmethod
    def constant(cls, rate: float) -> RateProfile:
        """A link of fixed rate from time 0 on."""
        return cls.steps([0.0], [rate])

    @classmethod
    def slots(
        cls, slot_bits: ArrayLike, slot_length: float, *, start: float = 0.0, after: float = 0.0
    ) -> RateProfile:
        """Slot t (from ``start + t·slot_length``) carries ``slot_bits[t]`` bits; ``after`` bits/s follow."""
        if not (math.isfinite(slot_length) and slot_length > 0):
            raise InputError(f"must be finite and > 0, got {slot_length}", path="slot_length")
        bits = _vector(slot_bits, "slot_bits")
        times = start + slot_length * np.arange(bits.size + 1)
        return cls.steps(times, np.append(bits / slot_length, after))

    def delivered(self, t: ArrayLike) -> FloatArray:
        """Bits delivered from ``times[0]`` up to time ``t`` (vectorised)."""
        t = np.asarray(t, dtype=np.float64)
        i = np.searchsorted(self.times, t, side="right") - 1
        j = np.maximum(i, 0)
        out = self.cumulative[j] + self.rates[j] * (t - self.times[j])
        return np.where(i < 0, 0.0, out)

    def finish(self, start: ArrayLike, bits: ArrayLike) -> FloatArray:
        """Earliest time by which ``bits`` sent from ``start`` are delivered; inf if never (vectorised)."""
        start, bits = np.broadcast_arrays(np.asarray(start, np.float64), np.asarray(bits, np.float64))
        target = self.delivered(start) + bits
        # Last breakpoint with delivery strictly below the target: the segment that reaches it.
        j = np.maximum(np.searchsorted(self.cumulative, target, side="left") - 1, 0)
        rate = self.rates[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.times[j] + (target - self.cumulative[j]) / rate
        t = np.where(rate > 0, t, np.inf)
        nxt = np.minimum(j + 1, self.times.size - 1)
        t = np.where(j + 1 < self.times.size, np.minimum(t, self.times[nxt]), t)
        return np.where(bits > 0, np.maximum(t, start), start)

    @cached_property
    def _lists(self) -> tuple[list[float], list[float], list[float]]:
        return self.times.tolist(), self.rates.tolist(), self.cumulative.tolist()

    def finish_one(self, start: float, bits: float) -> float:
        """Scalar ``finish`` without numpy overhead, for the engine's per-task sweep."""
        if bits <= 0:
            return start
        times, rates, cum = self._lists
        i = bisect.bisect_right(times, start) - 1
        done = 0.0 if i < 0 else cum[i] + rates[i] * (start - times[i])
        target = done + bits
        j = max(bisect.bisect_left(cum, target) - 1, 0)
        if rates[j] <= 0:
            return math.inf
        t = times[j] + (target - cum[j]) / rates[j]
        if j + 1 < len(times):
            t = min(t, times[j + 1])
        return max(t, start)


def completion_times(profile: RateProfile, sizes: ArrayLike, start: float = 0.0) -> FloatArray:
    """When each of several pieces sent back to back from ``start`` is fully delivered.

    Pieces are packets (ENACHI, fluid model) or chunks of a modality (O-WiN's arrival
    A_{m,j} = time at which Σ_{i≤j} d_{m,i} bits are in). inf for a piece that never is.
    """
    pieces = _vector(sizes, "sizes")
    return profile.finish(start, np.cumsum(pieces))


def slotted_packet_times(
    slot_bits: ArrayLike, packet_bits: float, n_packets: int, slot_length: float, *, first_slot: int = 0
) -> FloatArray:
    """Packet k's delivery time when slot t sends floor(slot_bits[t] / packet_bits) whole packets.

    A packet is never split across slots (the slot's leftover bits are lost) and counts
    as delivered at the end of its slot; sending begins with slot ``first_slot``. inf for
    packets the slots cannot carry.
    """
    if not (math.isfinite(packet_bits) and packet_bits > 0):
        raise InputError(f"must be finite and > 0, got {packet_bits}", path="packet_bits")
    if not (math.isfinite(slot_length) and slot_length > 0):
        raise InputError(f"must be finite and > 0, got {slot_length}", path="slot_length")
    if first_slot < 0:
        raise InputError(f"must be ≥ 0, got {first_slot}", path="first_slot")
    bits = _vector(slot_bits, "slot_bits")[first_slot:]
    sent = np.cumsum(np.floor(bits / packet_bits))
    slot = np.searchsorted(sent, np.arange(1, n_packets + 1), side="left")
    ends = (first_slot + slot + 1) * slot_length
    return np.where(slot < sent.size, ends, np.inf)
