"""Real DNN architectures (torchvision definitions, 3×224×224 input) as chains of blocks.

Chain granularity: a cut is allowed wherever exactly one tensor crosses (between
layers of AlexNet/VGG, between residual or inverted-residual blocks of ResNet and
MobileNetV2), so every block boundary is a feasible split point.
"""

from __future__ import annotations

from collections.abc import Callable

from optsplit.instance.model import Profile
from optsplit.profiles.tracer import Tracer

DERIVATION = (
    "Derived analytically from the torchvision architecture with a 3x224x224 float32 input "
    "(optsplit.profiles.architectures): FLOPs = 2 x multiply-accumulates of convolutions and "
    "linear layers + one per pooling window element + one per element of residual additions; "
    "batch-norm/ReLU folded; output_bytes = elements x 4."
)


def alexnet() -> Profile:
    t = Tracer(3, 224, 224)
    inp = t.input_bytes
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
    t.linear(1000).cut("fc8")
    return _profile("alexnet", "AlexNet (Krizhevsky et al. 2012), torchvision variant", inp, t)


def vgg16() -> Profile:
    t = Tracer(3, 224, 224)
    inp = t.input_bytes
    for stage, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), 1):
        for i in range(1, convs + 1):
            t.conv(width, 3, 1, 1, bias=True, bn=False).cut(f"conv{stage}_{i}")
        t.pool(2, 2).cut(f"pool{stage}")
    t.adaptive_pool(7)
    t.linear(4096).cut("fc6")
    t.linear(4096).cut("fc7")
    t.linear(1000).cut("fc8")
    return _profile("vgg16", "VGG-16 (Simonyan & Zisserman 2015)", inp, t)


def _resnet(name: str, title: str, blocks: tuple[int, ...], bottleneck: bool) -> Profile:
    t = Tracer(3, 224, 224)
    inp = t.input_bytes
    t.conv(64, 7, 2, 3).cut("conv1")
    t.pool(3, 2, 1).cut("pool1")
    expansion = 4 if bottleneck else 1
    for stage, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512)), 1):
        for i in range(count):
            stride = 2 if (stage > 1 and i == 0) else 1
            out = width * expansion
            shortcut = t.branch()
            needs_projection = stride != 1 or t.channels != out
            if needs_projection:
                shortcut.conv(out, 1, stride)
            if bottleneck:
                t.conv(width, 1).conv(width, 3, stride, 1).conv(out, 1)
            else:
                t.conv(width, 3, stride, 1).conv(width, 3, 1, 1)
            t.add(*shortcut.work()).cut(f"layer{stage}.{i}")
    t.global_pool().linear(1000).cut("fc")
    return _profile(name, title, inp, t)


def resnet18() -> Profile:
    return _resnet("resnet18", "ResNet-18 (He et al. 2016), blocks as chain", (2, 2, 2, 2), False)


def resnet50() -> Profile:
    return _resnet("resnet50", "ResNet-50 (He et al. 2016), blocks as chain", (3, 4, 6, 3), True)


def resnet152() -> Profile:
    return _resnet("resnet152", "ResNet-152 (He et al. 2016), blocks as chain", (3, 8, 36, 3),
                   True)


def mobilenet_v2() -> Profile:
    t = Tracer(3, 224, 224)
    inp = t.input_bytes
    t.conv(32, 3, 2, 1).cut("conv_stem")
    settings = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))
    block = 0
    for expand, out, repeats, first_stride in settings:
        for i in range(repeats):
            stride = first_stride if i == 0 else 1
            residual = stride == 1 and t.channels == out
            hidden = t.channels * expand
            if expand != 1:
                t.conv(hidden, 1)
            t.conv(hidden, 3, stride, 1, groups=hidden).conv(out, 1)
            if residual:
                t.add()
            block += 1
            t.cut(f"block{block}")
    t.conv(1280, 1).cut("conv_last")
    t.global_pool().linear(1000).cut("classifier")
    return _profile("mobilenet_v2", "MobileNetV2 (Sandler et al. 2018), blocks as chain", inp, t)


def _profile(name: str, title: str, input_bytes: int, t: Tracer) -> Profile:
    return Profile(name, float(input_bytes), tuple(t.layers), title, DERIVATION)


ARCHITECTURES: dict[str, Callable[[], Profile]] = {
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "resnet152": resnet152,
    "mobilenet_v2": mobilenet_v2,
}
