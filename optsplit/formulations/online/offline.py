"""`offline`: an upper bound on the time-averaged accuracy of ANY policy over a horizon.

The bound knows every fade and every sample's difficulty in advance. A sample split at s is
correct iff at least k*(s, u) = ⌈K(s)·ρ*(u)⌉ packets arrive (ρ* inverts the surrogate), so
per device and frame the useful options are: idle (nothing, energy 0), device-only, or a
split s with exactly k* packets over a bandwidth grid ω_1 < … < ω_J = 1. Option (s, j) is
given the least energy that delivers k*·L bits in the window with share ω_j (water-filling
over the known fades, capped by P_max, a lower end of a bisection) but is charged only
ω_{j−1} of bandwidth (ω_0 = 0): any real share in (ω_{j−1}, ω_j] needs at least that energy
and at least that bandwidth, so the option set relaxes every policy's choices.

The long-term energy constraint Σ_m E_{n,m} ≤ M·B_n is dualised with prices μ_n ≥ 0:
    UB(μ) = Σ_m F_m(μ) + Σ_n μ_n M B_n,   F_m(μ) = max_frame Σ_n (v − μ_n e)  s.t. Σ_n b ≤ 1,
which bounds the optimum for every μ (weak duality). F_m is bounded by its own Lagrangian
over the bandwidth price ν (any N) or, for small N, solved exactly as a multiple-choice
knapsack MILP on HiGHS (its dual bound is used). μ is improved by projected subgradient
steps; the lowest UB found is reported. A primal offline plan is built from the last prices
(bandwidth and energy repaired greedily) so the bound's gap can be reported.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from optsplit.result import Termination
from optsplit.solvers.linear import LinearModel
from optsplit.solvers.options import SolveOptions
from optsplit.solvers.registry import get_backend

from .data import OnlineData
from .env import draw

log = logging.getLogger(__name__)

GRID = 12  # bandwidth grid points
BISECTIONS = 50  # water-level bisection steps
PRICE_STEPS = 60  # subgradient steps on the energy prices μ
NU_STEPS = 50  # bisection steps on the bandwidth price ν
MILP_MAX_DEVICES = 12
PRIMAL_ROUNDS = (
    40  # price raises while building the offline plan  # per-frame MILP (HiGHS) up to this many devices
)


@dataclass(frozen=True)
class Options:
    """Per frame and device: value, energy, charged and true bandwidth of each option."""

    value: np.ndarray  # (M, N, O)
    energy: np.ndarray  # (M, N, O) energy for the bound (water-filling lower end)
    charged: np.ndarray  # (M, N, O) ω_{j−1}
    share: np.ndarray  # (M, N, O) ω_j
    split: np.ndarray  # (O,) split index per option (−1 = idle)
    level: np.ndarray  # (M, N, O) water level delivering the bits (upper end), for the plan
    packets: np.ndarray  # (M, N, O) packets the option delivers


def grid(n: int) -> np.ndarray:
    """ω_0 = 0 < ω_1 < … < ω_J = 1, dense around 1/N."""
    return np.concatenate(([0.0], np.geomspace(1.0 / (8.0 * n), 1.0, GRID)))


def _waterfill(
    gain: np.ndarray,
    mask: np.ndarray,
    band: np.ndarray,
    bits: np.ndarray,
    p_max: np.ndarray,
    data: OnlineData,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least energy delivering ``bits`` over the masked slots: (lower energy, upper level, ok).

    All arrays broadcast to (..., T) for gain/mask and (...) for the rest.
    """
    c = (band * data.noise)[..., None] / gain  # noise over gain per slot, W
    c = np.where(mask, c, np.inf)

    def delivered(level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = np.clip(level[..., None] - c, 0.0, p_max[..., None])
        p = np.where(mask, p, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(mask, data.slot * band[..., None] * np.log2(1.0 + p / c), 0.0)
        return b.sum(-1), p.sum(-1) * data.slot

    top = np.where(np.isfinite(c), c, 0.0).max(-1) + p_max
    most, _ = delivered(top)
    ok = (most >= bits) & (bits > 0)
    lo, hi = np.zeros_like(top), top.copy()
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2.0
        got, _ = delivered(mid)
        enough = got >= bits
        hi = np.where(enough, mid, hi)
        lo = np.where(enough, lo, mid)
    _, e_lo = delivered(lo)
    return e_lo, hi, ok


def options(data: OnlineData, frames: int, seed: int) -> Options:
    """Every device-frame's option set (vectorised over devices, splits and the share grid)."""
    n, S = data.n, len(data.split_names)
    omega = grid(n)
    J = omega.size - 1
    sends = [s for s in range(S) if s != data.local and data.packets[s] > 0]
    count = 2 + len(sends) * J  # idle, device-only, then (split, share)
    split_of = np.array([-1, data.local, *np.repeat(sends, J)])
    shape = (frames, n, count)
    value, energy = np.zeros(shape), np.zeros(shape)
    charged, share = np.zeros(shape), np.zeros(shape)
    level, packets = np.zeros(shape), np.zeros(shape, np.int64)
    t = np.arange(data.slots)
    s_arr = np.array(sends, int)
    for m in range(frames):
        draws = draw(data, seed, m)
        u = draws.difficulty
        local_ok = data.feasible[:, data.local] & (u <= data.surrogate.amax[data.local])
        value[m, :, 1] = local_ok
        energy[m, :, 1] = data.e_loc[:, data.local]
        if not sends:
            continue
        rho = data.surrogate.fraction_for(s_arr[None, :], u[:, None])  # (N, S')
        k = data.packets[s_arr][None, :]
        kstar = np.where(np.isfinite(rho), np.ceil(np.where(np.isfinite(rho), rho, 0) * k - 1e-9), -1)
        usable = np.isfinite(rho) & data.feasible[:, s_arr]
        mask = (t[None, None, :] >= data.first[:, s_arr][:, :, None]) & (
            t[None, None, :] < data.last[s_arr][None, :, None]
        )  # (N, S', T)
        bits = kstar * data.packet_bits * (1 + 1e-9)
        band = omega[1:][None, None, :] * data.bandwidth  # (1, 1, J)
        gain = draws.gain.T[:, None, None, :]  # (N, 1, 1, T)
        e_tx, lev, ok = _waterfill(
            gain,
            mask[:, :, None, :],
            np.broadcast_to(band, (n, len(sends), J)),
            np.broadcast_to(bits[:, :, None], (n, len(sends), J)),
            np.broadcast_to(data.p_max[:, None, None], (n, len(sends), J)),
            data,
        )
        zero = kstar == 0  # correct with nothing sent: no bandwidth needed
        ok = usable[:, :, None] & (ok | zero[:, :, None])
        e_tx = np.where(zero[:, :, None], 0.0, e_tx)
        e_tot = data.e_loc[:, s_arr][:, :, None] + e_tx
        value[m, :, 2:] = ok.reshape(n, -1)
        energy[m, :, 2:] = np.where(ok, e_tot, 0.0).reshape(n, -1)
        zero3 = np.broadcast_to(zero[:, :, None], ok.shape)
        charged[m, :, 2:] = np.where(zero3, 0.0, omega[None, None, :-1]).reshape(n, -1)
        share[m, :, 2:] = np.where(zero3, 0.0, omega[None, None, 1:]).reshape(n, -1)
        level[m, :, 2:] = np.where(ok & ~zero3, lev, 0.0).reshape(n, -1)
        packets[m, :, 2:] = np.broadcast_to(np.maximum(kstar, 0)[:, :, None], ok.shape).reshape(n, -1)
    # an option that is not correct is never better than idle: give it idle's figures
    dead = value == 0
    energy[dead], charged[dead], share[dead] = 0.0, 0.0, 0.0
    return Options(value, energy, charged, share, split_of, level, packets)


def _frame_bounds(opt: Options, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """min over ν of the bandwidth-Lagrangian bound of every frame, the energy it picks, and ν."""
    gain = opt.value - mu[None, :, None] * opt.energy  # (M, N, O)

    def at(nu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        score = gain - nu[:, None, None] * opt.charged
        pick = np.argmax(score, axis=2)
        best = np.take_along_axis(score, pick[..., None], 2)[..., 0]
        used = np.take_along_axis(opt.charged, pick[..., None], 2)[..., 0].sum(1)
        return nu + best.sum(1), used, pick

    M = gain.shape[0]
    lo, hi = np.zeros(M), np.full(M, float(gain.shape[1]) * 8.0 * 2.0 + 1.0)
    for _ in range(NU_STEPS):
        mid = (lo + hi) / 2.0
        _, used, _ = at(mid)
        over = used > 1.0  # subgradient 1 − used < 0: raise ν
        lo = np.where(over, mid, lo)
        hi = np.where(over, hi, mid)
    bound_lo, _, _ = at(lo)
    bound_hi, _, pick = at(hi)
    bound = np.minimum(bound_lo, bound_hi)
    e = np.take_along_axis(opt.energy, pick[..., None], 2)[..., 0]
    return bound, e, hi


def _milp_frame(opt: Options, mu: np.ndarray, m: int) -> float | None:
    """Exact F_m(μ) (HiGHS dual bound) of the multiple-choice knapsack; None if not proven."""
    gain = opt.value[m] - mu[:, None] * opt.energy[m]
    n, o = gain.shape
    cols = n * o
    rows = np.repeat(np.arange(n), o)
    A = sp.vstack(
        [
            sp.csr_matrix((np.ones(cols), (rows, np.arange(cols))), shape=(n, cols)),
            sp.csr_matrix(opt.charged[m].reshape(1, -1)),
        ]
    ).tocsr()
    model = LinearModel(
        c=-gain.ravel(),
        A=A,
        row_lower=np.concatenate((np.ones(n), [-np.inf])),
        row_upper=np.concatenate((np.ones(n), [1.0])),
        col_lower=np.zeros(cols),
        col_upper=np.ones(cols),
        integer=np.ones(cols, bool),
    )
    out = get_backend("highs").solve(model, SolveOptions())
    if out.termination is not Termination.OPTIMAL or out.bound is None:
        log.warning(
            "per-frame MILP of frame %d ended %s; its Lagrangian bound is kept", m, out.termination.value
        )
        return None
    return -float(out.bound)


@dataclass
class Bound:
    """The upper bound on average accuracy and how it was obtained."""

    value: float
    prices: np.ndarray
    milp_frames: int
    runtime: float
    options: Options


def upper_bound(
    data: OnlineData,
    frames: int,
    seed: int,
    budgets: np.ndarray | None = None,
    *,
    milp: bool | None = None,
    opt: Options | None = None,
) -> Bound:
    """Upper bound on the time-averaged accuracy of any policy spending ≤ ``budgets`` per frame."""
    t0 = time.perf_counter()
    budgets = data.budget if budgets is None else np.asarray(budgets, float)
    opt = opt or options(data, frames, seed)
    n = data.n
    scale = 1.0 / max(float(budgets.mean()), 1e-12)
    mu = np.zeros(n)
    best_val, best_mu = np.inf, mu.copy()
    for k in range(PRICE_STEPS):
        f, e, _ = _frame_bounds(opt, mu)
        total = float(f.sum() + (mu * budgets).sum() * frames)
        if total < best_val:
            best_val, best_mu = total, mu.copy()
        slack = budgets * frames - e.sum(0)  # subgradient of UB in μ
        step = scale / (frames * (1.0 + k) ** 0.5)
        mu = np.maximum(mu - step * slack * scale, 0.0)
    use_milp = n <= MILP_MAX_DEVICES if milp is None else milp
    count = 0
    if use_milp:
        f, _, _ = _frame_bounds(opt, best_mu)
        for m in range(frames):
            exact = _milp_frame(opt, best_mu, m)
            if exact is not None and exact < f[m]:
                f[m] = exact
                count += 1
        best_val = min(best_val, float(f.sum() + (best_mu * budgets).sum() * frames))
    return Bound(best_val / (frames * n), best_mu, count, time.perf_counter() - t0, opt)


def _greedy(opt: Options, mu: np.ndarray, frames: int) -> np.ndarray:
    """Per frame, devices in order of their best score take the best option that still fits."""
    _, _, nu = _frame_bounds(opt, mu)
    score = opt.value - mu[None, :, None] * opt.energy - nu[:, None, None] * opt.share
    n = opt.value.shape[1]
    chosen = np.zeros((frames, n), np.int64)
    for m in range(frames):
        left = 1.0
        for dev in np.argsort(-score[m].max(1), kind="stable"):
            fits = opt.share[m, dev] <= left + 1e-15
            pick = int(np.argmax(np.where(fits, score[m, dev], -np.inf)))
            chosen[m, dev] = pick
            left -= opt.share[m, dev, pick]
    return chosen


def primal_plan(data: OnlineData, bound: Bound, frames: int, seed: int) -> dict[str, Any]:
    """An offline plan from the bound's prices: shares repaired per frame, energy per device."""
    opt = bound.options
    n = data.n
    idle_split = int(np.argmin(data.e_loc.min(0)))
    mu = bound.prices.copy()
    raise_by = 1.0 / max(float(data.budget.mean()), 1e-12)
    for _ in range(PRIMAL_ROUNDS):  # raise the prices of devices over budget, choose again
        chosen = _greedy(opt, mu, frames)
        spent = np.take_along_axis(opt.energy, chosen[..., None], 2)[..., 0].sum(0)
        over = spent > data.budget * frames
        if not over.any():
            break
        mu = np.where(over, mu * 1.5 + raise_by, mu)
    rows = np.arange(frames)
    for dev in range(n):  # energy repair: drop the frames with the least value per joule
        e = opt.energy[rows, dev, chosen[:, dev]]
        budget = data.budget[dev] * frames
        if e.sum() <= budget:
            continue
        v = opt.value[rows, dev, chosen[:, dev]]
        order = np.argsort(v / np.maximum(e, 1e-12), kind="stable")
        total = e.sum()
        for m in order:
            if total <= budget:
                break
            total -= e[m]
            chosen[m, dev] = 0
    frames_out = []
    t = np.arange(data.slots)
    for m in range(frames):
        draws = draw(data, seed, m)
        pick = chosen[m]
        splits, shares, firsts, powers = [], [], [], []
        for dev in range(n):
            o = int(pick[dev])
            s = int(opt.split[o])
            s = idle_split if s < 0 else s
            share = float(opt.share[m, dev, o])
            lev = float(opt.level[m, dev, o])
            splits.append(data.split_names[s])
            shares.append(share)
            if share > 0 and lev > 0:
                inside = (t >= data.first[dev, s]) & (t < data.last[s])
                c = share * data.bandwidth * data.noise / draws.gain[:, dev]
                p = np.where(inside, np.clip(lev - c, 0.0, data.p_max[dev]), 0.0)
                nz = np.flatnonzero(p > 0)
                firsts.append(int(nz[0]) if nz.size else 0)
                powers.append([float(x) for x in p[nz[0] : nz[-1] + 1]] if nz.size else [])
            else:
                firsts.append(0)
                powers.append([])
        frames_out.append({"split": splits, "bandwidth": shares, "first_slot": firsts, "power": powers})
    return {"policy": "offline", "seed": seed, "devices": list(data.devices), "frames": frames_out}
