"""PointNet (Qi, Su, Mo, Guibas, CVPR 2017) traced block by block on a point cloud.

The classification network of the paper and of its reference code (charlesq34/pointnet,
models/pointnet_cls.py): an input T-Net and a C×C transform of the points, a shared MLP
(64, 64), a feature T-Net and a 64×64 transform, a shared MLP (64, 128, 1024), max-pool
over the points, then fully connected layers (512, 256, classes). Each T-Net is a shared
MLP (64, 128, 1024), max-pool, FC (512, 256) and a linear layer to C×C values. Every shared
MLP layer and hidden FC layer has a bias and batch-norm; a shared MLP layer is a 1×1
convolution over N points (the tensor is traced as C × N × 1).
"""

from __future__ import annotations

from collections.abc import Callable

from optsplit.profiles.tracer import Tracer


def _tnet(size: int) -> Callable[[Tracer], None]:
    """The T-Net that maps a (C, N, 1) tensor to size×size transform values."""

    def net(t: Tracer) -> None:
        t.conv(64, 1, bias=True).conv(128, 1, bias=True).conv(1024, 1, bias=True).global_pool()
        t.linear(512, bn=True).linear(256, bn=True).linear(size * size, act=False)

    return net


def build_pointnet(t: Tracer, prefix: str = "", classes: int | None = None, transforms: bool = True) -> None:
    """Trace PointNet on ``t`` (channels = features per point, height = points, width 1).

    Cuts one layer per transform and shared-MLP layer; the last shared layer is cut together
    with the max-pool (its N×1024 output is never worth sending). ``classes`` adds the
    classification FC head; without it the branch ends in the 1024-d global feature.
    ``transforms`` False gives the paper's "vanilla" PointNet without T-Nets.
    """
    if transforms:
        t.transform(_tnet(t.channels)).cut(f"{prefix}input_tf")
    t.conv(64, 1, bias=True).cut(f"{prefix}conv1")
    t.conv(64, 1, bias=True).cut(f"{prefix}conv2")
    if transforms:
        t.transform(_tnet(64)).cut(f"{prefix}feature_tf")
    t.conv(64, 1, bias=True).cut(f"{prefix}conv3")
    t.conv(128, 1, bias=True).cut(f"{prefix}conv4")
    t.conv(1024, 1, bias=True).global_pool().cut(f"{prefix}conv5_maxpool")
    if classes is not None:
        t.linear(512, bn=True).cut(f"{prefix}fc1")
        t.linear(256, bn=True).cut(f"{prefix}fc2")
        t.linear(classes, act=False).cut(f"{prefix}fc3")
