"""How the layer times of one machine co-vary, and the variance of a prefix or suffix sum.

Per device and side (local processor, server processor) the layers' times have a covariance
C: the profile's measured one ('measured', the default, when the profile has one for that
processor), the diagonal of the variances ('independent'), or σσᵀ ('comonotone': every pair
fully correlated, so the std of a sum is the sum of the stds — the worst case). The local and
the server part run on different machines and are independent of each other.
"""

from __future__ import annotations

import numpy as np

from optsplit.formulations.robust.model import RobustDevice

CORRELATIONS = ("measured", "independent", "comonotone")


def layer_covariance(
    dev: RobustDevice, processor: str | None, scale: float, variances: np.ndarray
) -> np.ndarray | None:
    """The L×L covariance of one side's scaled layer times, or None for independent layers.

    ``variances`` are the layers' scaled variances (0 for a layer without a measured time);
    a measured table is multiplied by ``scale``² like the variances on its diagonal.
    """
    if dev.correlation == "comonotone":
        sd = np.sqrt(variances)
        return np.outer(sd, sd)
    measured = dev.profile.covariance.get(processor) if processor is not None else None
    if dev.correlation == "independent" or measured is None:
        return None
    return np.array(measured) * scale**2


def prefix_variances(variances: np.ndarray, cov: np.ndarray | None) -> np.ndarray:
    """Var(t_1 + … + t_m) for m = 0..L: 1ᵀC[:m,:m]1, read off the 2-D cumulative sum."""
    sums = np.cumsum(variances) if cov is None else np.diagonal(cov.cumsum(axis=0).cumsum(axis=1))
    return np.concatenate([np.zeros(1), np.maximum(sums, 0.0)])


def suffix_variances(variances: np.ndarray, cov: np.ndarray | None) -> np.ndarray:
    """Var(t_{m+1} + … + t_L) for m = 0..L: 1ᵀC[m:,m:]1 (0 for m = L)."""
    if cov is None:
        sums = np.cumsum(variances[::-1])[::-1]
    else:
        sums = np.diagonal(cov[::-1, ::-1].cumsum(axis=0).cumsum(axis=1))[::-1]
    return np.concatenate([np.maximum(sums, 0.0), np.zeros(1)])


def part_layers(dev: RobustDevice, m: int, local: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Layers 1..m (``local``, in cycles) or m+1..L (on the server, in s): per layer mean and
    variance, and their covariance (None: independent); a layer without a measured time
    (FLOPs-based) has variance 0."""
    processor = dev.processor if local else dev.server_processor
    scale = dev.local_scale * dev.f_ref if local else dev.server_scale
    speed = dev.flops_per_cycle if local else dev.server_speed
    depth = dev.profile.depth
    mean, var = np.zeros(depth), np.zeros(depth)
    for j, layer in enumerate(dev.profile.layers):
        stat = layer.time.get(processor) if processor is not None else None
        if stat is not None:
            mean[j], var[j] = stat.mean * scale, stat.var * scale**2
        else:
            mean[j] = layer.flops / (speed or np.nan)
    part = slice(0, m) if local else slice(m, depth)
    cov = layer_covariance(dev, processor, scale, var)
    return mean[part], var[part], None if cov is None else cov[part, part]
