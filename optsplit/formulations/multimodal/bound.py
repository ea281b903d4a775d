"""A proven lower bound on the makespan, for every method's gap.

Terms (each holds for every plan, either RB policy, any chunking and core mapping):
- transfer: modality m, even with every RB, is in no earlier than D_m / Σ_k ρ_mk, and the
  last tile of its entry block and the blocks after it still run on the fastest core;
- shared radio: a fractional (time-shared) RB split cannot deliver all modalities before
  T_frac (an LP); the last one to arrive is followed by at least the shortest such tail;
- critical path: the longest chain of blocks at the fastest core's speed (an entry block
  counted as one tile of the finest chunking, as tiles may run side by side);
- work: nothing computes before the first chunk of some modality can be in, and then the
  total work needs Σ FLOPs / Σ speeds.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from optsplit.formulations.multimodal.data import MultimodalData
from optsplit.formulations.multimodal.heuristics import branch_paths

# linprog (HiGHS) solves the tiny LP to ~1e-9 relative; shave that off so the term stays a bound.
LP_SAFETY = 1e-7


def fractional_radio_time(data: MultimodalData) -> float:
    """min T such that some split y_mk ≥ 0, Σ_m y_mk ≤ 1, gives Σ_k y_mk ρ_mk T ≥ D_m for all m.

    Solved as max u s.t. Σ_k ρ_mk y_mk ≥ D_m u (u = 1/T); rates are scaled to O(1).
    """
    M, K = data.rates.shape
    scale = float(data.rates.max())
    rho = data.rates / scale
    d = data.bits / float(data.bits.max())
    n = M * K + 1  # y (row-major by modality), then u
    c = np.zeros(n)
    c[-1] = -1.0
    a_ub = np.zeros((M + K, n))
    for m in range(M):
        a_ub[m, m * K : (m + 1) * K] = -rho[m]
        a_ub[m, -1] = d[m]
    for k in range(K):
        a_ub[M + k, k : M * K : K] = 1.0
    b_ub = np.concatenate((np.zeros(M), np.ones(K)))
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if res.status != 0 or res.x[-1] <= 0:
        return 0.0  # no bound from this term
    u = float(res.x[-1]) * scale / float(data.bits.max())
    return (1.0 - LP_SAFETY) / u


def lower_bound(data: MultimodalData) -> tuple[float, dict[str, float]]:
    """The best of the terms above, and each term (seconds)."""
    J = max(data.chunk_options)
    tails, _ = branch_paths(data, J)
    alone = data.bits / data.rates.sum(axis=1)
    terms = {
        "transfer": float(np.max(alone + tails)),
        "shared_radio": fractional_radio_time(data) + float(tails.min()),
        "critical_path": float(tails.max()),
        "work": float(np.min(alone / J)) + float(data.flops.sum() / data.speeds.sum()),
    }
    return max(terms.values()), terms
