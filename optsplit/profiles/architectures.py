"""Real DNN architectures (torchvision definitions, 3×224×224 input) as chains of blocks.

Chain granularity: a cut is allowed wherever exactly one tensor crosses (between
layers of AlexNet/VGG, between residual or inverted-residual blocks of ResNet and
MobileNetV2), so every block boundary is a feasible split point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from optsplit.instance.model import Profile
from optsplit.profiles.tracer import Tracer


class Builder(Protocol):
    """What an architecture description calls: implemented analytically by Tracer and
    with PyTorch modules by optsplit.profiles.torch_profiler.TorchBuilder."""

    channels: int

    def conv(
        self,
        out: int,
        k: int,
        stride: int = 1,
        pad: int = 0,
        groups: int = 1,
        bias: bool = False,
        bn: bool = True,
        act: bool = True,
    ) -> Any: ...

    def pool(self, k: int, stride: int, pad: int = 0, ceil: bool = False) -> Any: ...

    def adaptive_pool(self, size: int) -> Any: ...

    def global_pool(self) -> Any: ...

    def linear(self, out: int, act: bool = True) -> Any: ...

    def residual(
        self, main: Callable[[Any], object], shortcut: Callable[[Any], object] | None = None, act: bool = True
    ) -> Any: ...

    def cut(self, name: str) -> Any: ...


DERIVATION = (
    "Derived analytically from the torchvision architecture with a 3x224x224 float32 input "
    "(optsplit.profiles.architectures): FLOPs = 2 x multiply-accumulates of convolutions and "
    "linear layers + one per pooling window element + one per element of residual additions; "
    "batch-norm/ReLU folded; output_bytes = elements x 4."
)


def build_alexnet(t: Builder) -> None:
    t.conv(64, 11, 4, 2, bias=True, bn=False).cut("conv1")
    t.pool(3, 2).cut("pool1")
    t.conv(192, 5, 1, 2, bias=True, bn=False).cut("conv2")
    t.pool(3, 2).cut("pool2")
    t.conv(384, 3, 1, 1, bias=True, bn=False).cut("conv3")
    t.conv(256, 3, 1, 1, bias=True, bn=False).cut("conv4")
    t.conv(256, 3, 1, 1, bias=True, bn=False).cut("conv5")
    t.pool(3, 2).adaptive_pool(6).cut("pool5")
    t.linear(4096).cut("fc6")
    t.linear(4096).cut("fc7")
    t.linear(1000, act=False).cut("fc8")


def build_vgg16(t: Builder) -> None:
    for stage, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), 1):
        for i in range(1, convs + 1):
            t.conv(width, 3, 1, 1, bias=True, bn=False).cut(f"conv{stage}_{i}")
        t.pool(2, 2).cut(f"pool{stage}")
    t.adaptive_pool(7)
    t.linear(4096).cut("fc6")
    t.linear(4096).cut("fc7")
    t.linear(1000, act=False).cut("fc8")


def _resnet(blocks: tuple[int, ...], bottleneck: bool) -> Callable[[Builder], None]:
    def build(t: Builder) -> None:
        t.conv(64, 7, 2, 3).cut("conv1")
        t.pool(3, 2, 1).cut("pool1")
        expansion = 4 if bottleneck else 1
        for stage, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512)), 1):
            for i in range(count):
                stride = 2 if (stage > 1 and i == 0) else 1
                out = width * expansion

                def main(b: Builder, width: int = width, stride: int = stride, out: int = out) -> None:
                    if bottleneck:
                        b.conv(width, 1).conv(width, 3, stride, 1).conv(out, 1, act=False)
                    else:
                        b.conv(width, 3, stride, 1).conv(width, 3, 1, 1, act=False)

                def project(b: Builder, stride: int = stride, out: int = out) -> None:
                    b.conv(out, 1, stride, act=False)

                needs_projection = stride != 1 or t.channels != out
                t.residual(main, project if needs_projection else None).cut(f"layer{stage}.{i}")
        t.global_pool().linear(1000, act=False).cut("fc")

    return build


# MobileNetV2's inverted-residual stages (Sandler et al. 2018, Table 2): expansion t, output
# channels c, repeats n, first stride s.
MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def build_mobilenet_v2(t: Builder) -> None:
    t.conv(32, 3, 2, 1).cut("conv_stem")
    block = 0
    for expand, out, repeats, first_stride in MOBILENET_V2_SETTINGS:
        for i in range(repeats):
            stride = first_stride if i == 0 else 1
            hidden = t.channels * expand

            def body(
                b: Builder, expand: int = expand, hidden: int = hidden, stride: int = stride, out: int = out
            ) -> None:
                if expand != 1:
                    b.conv(hidden, 1)
                b.conv(hidden, 3, stride, 1, groups=hidden).conv(out, 1, act=False)

            block += 1
            if stride == 1 and t.channels == out:
                t.residual(body, None, act=False)
            else:
                body(t)
            t.cut(f"block{block}")
    t.conv(1280, 1).cut("conv_last")
    t.global_pool().linear(1000, act=False).cut("classifier")


@dataclass(frozen=True)
class Architecture:
    """A named network: how to build it on any Builder, and its title."""

    name: str
    title: str
    build: Callable[[Builder], None]

    def profile(self) -> Profile:
        """The analytic profile: FLOPs, parameters and output bytes per block."""
        t = Tracer(3, 224, 224)
        input_bytes = t.input_bytes
        self.build(t)
        return Profile(self.name, float(input_bytes), tuple(t.layers), self.title, DERIVATION)


KNOWN = (
    Architecture("alexnet", "AlexNet (Krizhevsky et al. 2012), torchvision variant", build_alexnet),
    Architecture("vgg16", "VGG-16 (Simonyan & Zisserman 2015)", build_vgg16),
    Architecture("resnet18", "ResNet-18 (He et al. 2016), blocks as chain", _resnet((2, 2, 2, 2), False)),
    Architecture("resnet50", "ResNet-50 (He et al. 2016), blocks as chain", _resnet((3, 4, 6, 3), True)),
    Architecture("resnet152", "ResNet-152 (He et al. 2016), blocks as chain", _resnet((3, 8, 36, 3), True)),
    Architecture("mobilenet_v2", "MobileNetV2 (Sandler et al. 2018), blocks as chain", build_mobilenet_v2),
)
ARCHITECTURES: dict[str, Callable[[], Profile]] = {a.name: a.profile for a in KNOWN}
BY_NAME: dict[str, Architecture] = {a.name: a for a in KNOWN}
