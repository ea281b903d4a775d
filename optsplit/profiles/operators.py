"""Operator-level DAG profiles of real networks, for splitting inside operators (Intra-DP).

One operator per PyTorch function the torchvision model calls at inference (conv, batch
norm, ReLU, pooling, add, cat, permute, layer norm, linear, GELU, ...), nothing fused, so the
counts of local and barrier operators can be compared with those the Intra-DP authors logged.
Tensors are float32, batch 1, input 3×224×224; shapes are logical (C, H, W) even where
ConvNeXt works channels-last between its two permutes, or (features,) after flattening.

Splitting is along the rows (H). An operator is local (``split_dim = "H"``) when a slice of its
output rows needs only a slice of its input rows: windowed operators (conv, pooling; the halo
arithmetic is in ``optsplit.profiles.halo``) and operators that act per position (element-wise,
norms over channels, cat along channels, channel-wise linear, permutes that keep H). Barriers
(``split_dim = None``) need the whole tensor: adaptive pooling, flatten, dense linear layers,
and any operator whose tensor has a single row left. (Intra-DP's code splits NCHW tensors
along W; with square kernels, strides, paddings and images the arithmetic is the same.)

FLOPs: 2 × multiply-accumulates for conv and linear layers (bias additions not counted); one
per window element per output element for pooling, one per input element for adaptive
average pooling; one per output element for add, the layer-scale multiply, ReLU, ReLU6 and
GELU; two for batch norm (inference: a scale and a shift); five for layer norm (mean,
variance, normalise, scale, shift); none for cat, permute, flatten and dropout (data movement
or identity at inference).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from optsplit.errors import InputError
from optsplit.instance.loader import read_document
from optsplit.instance.model import Layer, Profile, TimeStat
from optsplit.profiles.architectures import MOBILENET_V2_SETTINGS

BYTES_PER_ELEMENT = 4
INPUT = "input"  # the name by which operators refer to the network's input tensor

WINDOWED = frozenset({"conv", "maxpool", "avgpool"})
POSITIONWISE = frozenset(
    {
        "bn",
        "relu",
        "relu6",
        "gelu",
        "dropout",
        "add",
        "mul",
        "concat",
        "permute",
        "layernorm",
        "channel_linear",
    }
)
BARRIER = frozenset({"adaptive_avgpool", "flatten", "linear"})
KINDS = WINDOWED | POSITIONWISE | BARRIER

DERIVATION = (
    "Derived analytically from the torchvision architecture, one operator per PyTorch function "
    "called at inference, 3x224x224 float32 input, batch 1 (optsplit.profiles.operators): "
    "FLOPs = 2 x multiply-accumulates of conv/linear, one per pooling window element, one per "
    "element of add/mul/activations, two of batch norm, five of layer norm, none of "
    "cat/permute/flatten/dropout; output_bytes = elements x 4; split_dim H for local operators."
)


@dataclass(frozen=True)
class Operator:
    """One operator of a network: what it computes, on what, and how it may be split."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    out_shape: tuple[int, ...]
    flops: float
    output_bytes: float
    params: float = 0.0
    split_dim: str | None = None
    kernel: int | None = None
    stride: int | None = None
    padding: int | None = None
    dilation: int = 1
    groups: int = 1
    time: dict[str, TimeStat] = field(default_factory=dict)

    @property
    def windowed(self) -> bool:
        return self.kernel is not None


@dataclass(frozen=True)
class OperatorGraph:
    """A network as operators in topological order; the input tensor is named ``INPUT``."""

    name: str
    input_shape: tuple[int, ...]
    operators: tuple[Operator, ...]
    description: str = ""
    derivation: str = DERIVATION
    machine: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen = {INPUT}
        for op in self.operators:
            if op.name in seen:
                raise ValueError(f"operator name '{op.name}' is used twice (or is reserved)")
            if op.kind not in KINDS:
                raise ValueError(f"operator '{op.name}': unknown kind '{op.kind}'")
            for src in op.inputs:
                if src not in seen:
                    raise ValueError(f"operator '{op.name}' reads '{src}' before it is computed")
            if not op.inputs:
                raise ValueError(f"operator '{op.name}' has no inputs")
            if op.split_dim not in (None, "H"):
                raise ValueError(f"operator '{op.name}': split_dim must be 'H' or absent")
            if (op.kind in WINDOWED) != (None not in (op.kernel, op.stride, op.padding)):
                raise ValueError(
                    f"operator '{op.name}': kernel, stride and padding go with {sorted(WINDOWED)}"
                )
            seen.add(op.name)

    @property
    def input_bytes(self) -> float:
        return float(math.prod(self.input_shape) * BYTES_PER_ELEMENT)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {INPUT: -1, **{op.name: i for i, op in enumerate(self.operators)}}

    def index(self) -> dict[str, int]:
        """Position of every operator; the input tensor is -1."""
        return dict(self._index)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.input_shape if name == INPUT else self.operators[self._index[name]].out_shape

    def predecessors(self) -> tuple[np.ndarray, ...]:
        """For every operator, the positions of the tensors it reads (-1 = the input)."""
        idx = self._index
        return tuple(np.array([idx[s] for s in op.inputs], dtype=np.int64) for op in self.operators)

    def successors(self) -> tuple[np.ndarray, ...]:
        """For every operator, the positions of the operators that read its output."""
        out: list[list[int]] = [[] for _ in self.operators]
        for j, preds in enumerate(self.predecessors()):
            for i in preds:
                if i >= 0:
                    out[i].append(j)
        return tuple(np.array(s, dtype=np.int64) for s in out)

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """(producer, consumer) positions of every data edge; producer -1 is the input."""
        pairs = [(int(i), j) for j, preds in enumerate(self.predecessors()) for i in preds]
        src, dst = zip(*pairs)
        return np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)

    def flops(self) -> np.ndarray:
        return np.array([op.flops for op in self.operators])

    def output_bytes(self) -> np.ndarray:
        return np.array([op.output_bytes for op in self.operators])

    def local(self) -> np.ndarray:
        """Boolean mask of the operators that can be split along their rows."""
        return np.array([op.split_dim is not None for op in self.operators])

    def params(self) -> float:
        return float(sum(op.params for op in self.operators))

    def macs(self) -> float:
        """Multiply-accumulates of conv and linear layers (torchvision's 'GFLOPS' counts these)."""
        kinds = ("conv", "linear", "channel_linear")
        return float(sum(op.flops for op in self.operators if op.kind in kinds) / 2.0)

    def to_profile(self) -> Profile:
        """The operator graph as a DAG Profile (layer inputs given where not the previous layer)."""
        layers = []
        previous = INPUT
        for op in self.operators:
            inputs = () if op.inputs == (previous,) else op.inputs
            if INPUT in inputs:
                raise ValueError(f"operator '{op.name}' reads the input but is not first: not a Profile")
            layers.append(Layer(op.name, op.flops, op.output_bytes, op.params, dict(op.time), inputs))
            previous = op.name
        return Profile(
            self.name, self.input_bytes, tuple(layers), self.description, self.derivation, self.machine
        )


# ----------------------------------------------------------------------------------------------
# Building graphs


def _conv_out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


class GraphBuilder:
    """Appends operators with shapes, FLOPs and parameters worked out from their inputs."""

    def __init__(self, name: str, input_shape: tuple[int, ...] = (3, 224, 224)):
        self.name = name
        self.input_shape = input_shape
        self.ops: list[Operator] = []
        self._shapes: dict[str, tuple[int, ...]] = {INPUT: input_shape}

    def shape(self, name: str) -> tuple[int, ...]:
        return self._shapes[name]

    def add(
        self,
        name: str,
        kind: str,
        inputs: Sequence[str],
        out_shape: tuple[int, ...],
        flops: float,
        params: float = 0.0,
        window: tuple[int, int, int, int] | None = None,
        groups: int = 1,
    ) -> str:
        """Append an operator; local unless a barrier kind or a single row is left."""
        local = kind not in BARRIER and len(out_shape) == 3 and out_shape[1] > 1
        k, s, p, d = window if window is not None else (None, None, None, 1)
        op = Operator(
            name,
            kind,
            tuple(inputs),
            out_shape,
            float(flops),
            float(math.prod(out_shape) * BYTES_PER_ELEMENT),
            float(params),
            "H" if local else None,
            k,
            s,
            p,
            d,
            groups,
        )
        self.ops.append(op)
        self._shapes[name] = out_shape
        return name

    def conv(
        self, name: str, x: str, out: int, k: int, s: int = 1, p: int = 0, groups: int = 1, bias: bool = False
    ) -> str:
        c, h, w = self.shape(x)
        ho, wo = _conv_out(h, k, s, p), _conv_out(w, k, s, p)
        weights = (c // groups) * k * k * out
        return self.add(
            name,
            "conv",
            [x],
            (out, ho, wo),
            2.0 * weights * ho * wo,
            weights + (out if bias else 0),
            (k, s, p, 1),
            groups,
        )

    def pool(self, name: str, x: str, kind: str, k: int, s: int, p: int = 0) -> str:
        c, h, w = self.shape(x)
        ho, wo = _conv_out(h, k, s, p), _conv_out(w, k, s, p)
        return self.add(name, kind, [x], (c, ho, wo), k * k * c * ho * wo, window=(k, s, p, 1))

    def adaptive_avgpool(self, name: str, x: str, size: int) -> str:
        c, h, w = self.shape(x)
        if h % size or w % size:
            raise ValueError(f"{name}: adaptive pooling {h}x{w} -> {size} has uneven windows")
        return self.add(name, "adaptive_avgpool", [x], (c, size, size), c * h * w)

    def unary(self, name: str, x: str, kind: str) -> str:
        """Element-wise operator on one tensor (bn, relu, relu6, gelu, dropout, permute, layernorm)."""
        shape = self.shape(x)
        n = math.prod(shape)
        flops = {"bn": 2 * n, "layernorm": 5 * n, "relu": n, "relu6": n, "gelu": n}.get(kind, 0)
        params = 2 * shape[0] if kind in ("bn", "layernorm") else 0
        return self.add(name, kind, [x], shape, flops, params)

    def layer_scale(self, name: str, x: str) -> str:
        """Multiplication by a learned per-channel scale (ConvNeXt's layer scale)."""
        shape = self.shape(x)
        return self.add(name, "mul", [x], shape, math.prod(shape), shape[0])

    def add_(self, name: str, a: str, b: str) -> str:
        if self.shape(a) != self.shape(b):
            raise ValueError(f"{name}: adding {self.shape(a)} and {self.shape(b)}")
        return self.add(name, "add", [a, b], self.shape(a), math.prod(self.shape(a)))

    def concat(self, name: str, xs: Sequence[str]) -> str:
        shapes = [self.shape(x) for x in xs]
        if len({s[1:] for s in shapes}) != 1:
            raise ValueError(f"{name}: concatenating {shapes}")
        return self.add(name, "concat", xs, (sum(s[0] for s in shapes), *shapes[0][1:]), 0)

    def channel_linear(self, name: str, x: str, out: int) -> str:
        """A linear layer over the channels at every position (channels-last), with bias."""
        c, h, w = self.shape(x)
        return self.add(name, "channel_linear", [x], (out, h, w), 2.0 * c * out * h * w, c * out + out)

    def flatten(self, name: str, x: str) -> str:
        return self.add(name, "flatten", [x], (math.prod(self.shape(x)),), 0)

    def linear(self, name: str, x: str, out: int) -> str:
        (n,) = self.shape(x)
        return self.add(name, "linear", [x], (out,), 2.0 * n * out, n * out + out)

    def graph(self, description: str) -> OperatorGraph:
        return OperatorGraph(self.name, self.input_shape, tuple(self.ops), description)


def _conv_bn_act(
    b: GraphBuilder, prefix: str, x: str, out: int, k: int, s: int = 1, p: int = 0, **kw: Any
) -> str:
    """conv, bn, activation named prefix.0, prefix.1, prefix.2 (torchvision's Conv2dNormActivation)."""
    act = kw.pop("act", "relu")
    x = b.conv(f"{prefix}.0", x, out, k, s, p, **kw)
    x = b.unary(f"{prefix}.1", x, "bn")
    return b.unary(f"{prefix}.2", x, act) if act else x


def build_vgg19_bn() -> OperatorGraph:
    b = GraphBuilder("vgg19_bn")
    x, i = INPUT, 0
    for width, convs in ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)):
        for _ in range(convs):
            x = b.conv(f"features.{i}", x, width, 3, 1, 1, bias=True)
            x = b.unary(f"features.{i + 1}", x, "bn")
            x = b.unary(f"features.{i + 2}", x, "relu")
            i += 3
        x = b.pool(f"features.{i}", x, "maxpool", 2, 2)
        i += 1
    x = b.adaptive_avgpool("avgpool", x, 7)
    x = b.flatten("flatten", x)
    for j, out in ((0, 4096), (3, 4096)):
        x = b.linear(f"classifier.{j}", x, out)
        x = b.unary(f"classifier.{j + 1}", x, "relu")
        x = b.unary(f"classifier.{j + 2}", x, "dropout")
    b.linear("classifier.6", x, 1000)
    return b.graph("VGG-19 with batch norm (Simonyan & Zisserman 2015), torchvision vgg19_bn, operators")


def _classifier(b: GraphBuilder, x: str, name: str, dropout: bool = False) -> None:
    x = b.adaptive_avgpool("avgpool", x, 1)
    x = b.flatten("flatten", x)
    if dropout:
        x = b.unary(f"{name}.0", x, "dropout")
        name = f"{name}.1"
    b.linear(name, x, 1000)


def build_resnet(name: str, blocks: tuple[int, ...], title: str) -> OperatorGraph:
    """Bottleneck ResNet (torchvision v1.5: stride on the 3x3 convolution)."""
    b = GraphBuilder(name)
    x = b.conv("conv1", INPUT, 64, 7, 2, 3)
    x = b.unary("bn1", x, "bn")
    x = b.unary("relu", x, "relu")
    x = b.pool("maxpool", x, "maxpool", 3, 2, 1)
    for stage, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512)), 1):
        for i in range(count):
            p, s, out = f"layer{stage}.{i}", (2 if stage > 1 and i == 0 else 1), 4 * width
            y = b.unary(f"{p}.relu1", b.unary(f"{p}.bn1", b.conv(f"{p}.conv1", x, width, 1), "bn"), "relu")
            y = b.unary(
                f"{p}.relu2", b.unary(f"{p}.bn2", b.conv(f"{p}.conv2", y, width, 3, s, 1), "bn"), "relu"
            )
            y = b.unary(f"{p}.bn3", b.conv(f"{p}.conv3", y, out, 1), "bn")
            if i == 0:
                x = b.unary(f"{p}.downsample.1", b.conv(f"{p}.downsample.0", x, out, 1, s), "bn")
            x = b.unary(f"{p}.relu3", b.add_(f"{p}.add", y, x), "relu")
    _classifier(b, x, "fc")
    return b.graph(title)


def build_resnet152() -> OperatorGraph:
    return build_resnet(
        "resnet152", (3, 8, 36, 3), "ResNet-152 (He et al. 2016), torchvision resnet152, operators"
    )


def build_densenet121() -> OperatorGraph:
    """DenseNet-121: growth 32, bottleneck 4 x 32, blocks (6, 12, 24, 16), compression 0.5."""
    b = GraphBuilder("densenet121")
    x = b.conv("features.conv0", INPUT, 64, 7, 2, 3)
    x = b.unary("features.norm0", x, "bn")
    x = b.unary("features.relu0", x, "relu")
    x = b.pool("features.pool0", x, "maxpool", 3, 2, 1)
    for n, layers in enumerate((6, 12, 24, 16), 1):
        features = [x]
        for j in range(1, layers + 1):
            p = f"features.denseblock{n}.denselayer{j}"
            y = b.concat(f"{p}.cat", features)
            y = b.unary(f"{p}.relu1", b.unary(f"{p}.norm1", y, "bn"), "relu")
            y = b.conv(f"{p}.conv1", y, 4 * 32, 1)
            y = b.unary(f"{p}.relu2", b.unary(f"{p}.norm2", y, "bn"), "relu")
            features.append(b.conv(f"{p}.conv2", y, 32, 3, 1, 1))
        x = b.concat(f"features.denseblock{n}.cat", features)
        if n < 4:
            p = f"features.transition{n}"
            x = b.unary(f"{p}.relu", b.unary(f"{p}.norm", x, "bn"), "relu")
            x = b.conv(f"{p}.conv", x, b.shape(x)[0] // 2, 1)
            x = b.pool(f"{p}.pool", x, "avgpool", 2, 2)
    x = b.unary("relu", b.unary("features.norm5", x, "bn"), "relu")
    _classifier(b, x, "classifier")
    return b.graph("DenseNet-121 (Huang et al. 2017), torchvision densenet121, operators")


def build_mobilenet_v2() -> OperatorGraph:
    b = GraphBuilder("mobilenet_v2")
    x = _conv_bn_act(b, "features.0", INPUT, 32, 3, 2, 1, act="relu6")
    i = 1
    for expand, out, repeats, first_stride in MOBILENET_V2_SETTINGS:
        for r in range(repeats):
            s, c, p = (first_stride if r == 0 else 1), b.shape(x)[0], f"features.{i}.conv"
            y, j = x, 0
            if expand != 1:
                y, j = _conv_bn_act(b, f"{p}.0", y, c * expand, 1, act="relu6"), 1
            hidden = b.shape(y)[0]
            y = _conv_bn_act(b, f"{p}.{j}", y, hidden, 3, s, 1, groups=hidden, act="relu6")
            y = b.unary(f"{p}.{j + 2}", b.conv(f"{p}.{j + 1}", y, out, 1), "bn")
            x = b.add_(f"features.{i}.add", y, x) if s == 1 and c == out else y
            i += 1
    x = _conv_bn_act(b, f"features.{i}", x, 1280, 1, act="relu6")
    _classifier(b, x, "classifier", dropout=True)
    return b.graph("MobileNetV2 (Sandler et al. 2018), torchvision mobilenet_v2, operators")


def _layernorm2d(b: GraphBuilder, prefix: str, x: str) -> str:
    """torchvision's LayerNorm2d: permute to channels-last, layer norm, permute back."""
    x = b.unary(f"{prefix}.permute1", x, "permute")
    x = b.unary(f"{prefix}.layernorm", x, "layernorm")
    return b.unary(f"{prefix}.permute2", x, "permute")


def build_convnext(name: str, stages: tuple[tuple[int, int], ...], title: str) -> OperatorGraph:
    """ConvNeXt: stem 4x4/4, blocks dwconv7 - LN - linear 4C - GELU - linear C - layer scale."""
    b = GraphBuilder(name)
    width = stages[0][0]
    x = b.conv("features.0.0", INPUT, width, 4, 4, bias=True)
    x = _layernorm2d(b, "features.0.1", x)
    for n, (dim, depth) in enumerate(stages):
        if n > 0:
            p = f"features.{2 * n}"
            x = b.conv(f"{p}.1", _layernorm2d(b, f"{p}.0", x), dim, 2, 2, bias=True)
        for j in range(depth):
            p = f"features.{2 * n + 1}.{j}"
            y = b.conv(f"{p}.block.0", x, dim, 7, 1, 3, groups=dim, bias=True)
            y = b.unary(f"{p}.block.2", b.unary(f"{p}.block.1", y, "permute"), "layernorm")
            y = b.unary(f"{p}.block.4", b.channel_linear(f"{p}.block.3", y, 4 * dim), "gelu")
            y = b.unary(f"{p}.block.6", b.channel_linear(f"{p}.block.5", y, dim), "permute")
            x = b.add_(f"{p}.add", b.layer_scale(f"{p}.layer_scale", y), x)
    x = b.adaptive_avgpool("avgpool", x, 1)
    x = b.flatten("classifier.1", _layernorm2d(b, "classifier.0", x))
    b.linear("classifier.2", x, 1000)
    return b.graph(title)


def build_convnext_tiny() -> OperatorGraph:
    stages = ((96, 3), (192, 3), (384, 9), (768, 3))
    return build_convnext(
        "convnext_tiny", stages, "ConvNeXt-T (Liu et al. 2022), torchvision convnext_tiny, operators"
    )


def build_convnext_large() -> OperatorGraph:
    stages = ((192, 3), (384, 3), (768, 27), (1536, 3))
    return build_convnext(
        "convnext_large", stages, "ConvNeXt-L (Liu et al. 2022), torchvision convnext_large, operators"
    )


NETWORKS: dict[str, Callable[[], OperatorGraph]] = {
    "vgg19_bn": build_vgg19_bn,
    "resnet152": build_resnet152,
    "densenet121": build_densenet121,
    "mobilenet_v2": build_mobilenet_v2,
    "convnext_tiny": build_convnext_tiny,
    "convnext_large": build_convnext_large,
}


# ----------------------------------------------------------------------------------------------
# Files: a profile document with extra per-layer fields, one operator per line in JSON

WINDOW_FIELDS = ("kernel", "stride", "padding")


def _time_doc(time: dict[str, TimeStat]) -> dict[str, Any]:
    return {
        k: {"mean": v.mean, "var": v.var, **({"samples": v.samples} if v.samples else {})}
        for k, v in time.items()
    }


def graph_to_dict(graph: OperatorGraph) -> dict[str, Any]:
    """The file form: a profile whose layers also carry kind, shape, split and window fields.

    ``inputs`` is written only where it is not the previous operator (the profile convention);
    ``split_dim`` is omitted for barriers, the window only for windowed operators.
    """
    doc: dict[str, Any] = {"name": graph.name}
    if graph.description:
        doc["description"] = graph.description
    if graph.derivation:
        doc["derivation"] = graph.derivation
    if graph.machine:
        doc["machine"] = graph.machine
    doc["input_bytes"] = graph.input_bytes
    doc["input_shape"] = list(graph.input_shape)
    layers = []
    previous = INPUT
    for op in graph.operators:
        raw: dict[str, Any] = {"name": op.name, "kind": op.kind}
        if op.inputs != (previous,):
            raw["inputs"] = list(op.inputs)
        raw |= {"out_shape": list(op.out_shape), "flops": op.flops, "output_bytes": op.output_bytes}
        raw["params"] = op.params
        if op.split_dim is not None:
            raw["split_dim"] = op.split_dim
        if op.windowed:
            raw |= {"kernel": op.kernel, "stride": op.stride, "padding": op.padding}
        if op.dilation != 1:
            raw["dilation"] = op.dilation
        if op.groups != 1:
            raw["groups"] = op.groups
        if op.time:
            raw["time"] = _time_doc(op.time)
        layers.append(raw)
        previous = op.name
    doc["layers"] = layers
    return doc


def graph_from_dict(doc: dict[str, Any], source: str = "<dict>") -> OperatorGraph:
    """Inverse of graph_to_dict; errors name the source and the layer."""
    ops = []
    previous = INPUT
    for i, raw in enumerate(doc["layers"]):
        try:
            window = {k: int(raw[k]) for k in WINDOW_FIELDS} if "kernel" in raw else {}
            time = {
                k: TimeStat(float(v["mean"]), float(v.get("var", 0.0)), v.get("samples"))
                for k, v in raw.get("time", {}).items()
            }
            op = Operator(
                str(raw["name"]),
                str(raw["kind"]),
                tuple(raw.get("inputs", [previous])),
                tuple(int(n) for n in raw["out_shape"]),
                float(raw["flops"]),
                float(raw["output_bytes"]),
                float(raw.get("params", 0.0)),
                raw.get("split_dim"),
                window.get("kernel"),
                window.get("stride"),
                window.get("padding"),
                int(raw.get("dilation", 1)),
                int(raw.get("groups", 1)),
                time,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"bad operator: {exc!r}", source=source, path=f"layers[{i}]") from None
        ops.append(op)
        previous = op.name
    try:
        return OperatorGraph(
            str(doc["name"]),
            tuple(int(n) for n in doc["input_shape"]),
            tuple(ops),
            str(doc.get("description", "")),
            str(doc.get("derivation", "")),
            dict(doc.get("machine", {})),
        )
    except (KeyError, ValueError) as exc:
        raise InputError(str(exc), source=source) from None


def write_graph(graph: OperatorGraph, path: str | Path) -> None:
    """Write JSON with one operator per line: readable, diffable, fast to load."""
    doc = graph_to_dict(graph)
    layers = doc.pop("layers")
    head = json.dumps(doc, indent=1)[:-2]  # drop the closing newline and brace
    body = ",\n".join("  " + json.dumps(layer) for layer in layers)
    Path(path).write_text(f'{head},\n "layers": [\n{body}\n ]\n}}\n')


def read_graph(path: str | Path) -> OperatorGraph:
    """Read an operator profile file (JSON, TOML or YAML)."""
    return graph_from_dict(read_document(Path(path)), str(path))


# ----------------------------------------------------------------------------------------------
# Device and server times

HOST = "host-cpu"  # measured here with optsplit.profiles.operator_torch
DEVICE = "jetson-xavier-nx"  # the Intra-DP device (Jetson Xavier NX, 20 W 6-core mode)
SERVER = "edge-gpu"  # the Intra-DP edge server (a CUDA GPU box, model not logged)

# Whole-model times (device s, server s) the Intra-DP authors profiled for these networks, batch
# 1, 224x224, in the sample logs of their public code (Sun et al., arXiv 2507.05829): device a
# Jetson Xavier NX (JetPack 5, PyTorch 1.12), server a CUDA 11.3 GPU box. The server is 4.2x
# (ResNet-152), 4.5x (DenseNet-121), 18.3x (VGG-19-BN) and 23.5x (ConvNeXt-L) faster than the
# device: the many small operators of ResNet and DenseNet gain little on a GPU.
SETUP_TIMES: dict[str, tuple[float, float]] = {
    "vgg19_bn": (0.088, 0.0048),
    "resnet152": (0.086, 0.0205),
    "densenet121": (0.076, 0.0168),
    "convnext_large": (0.207, 0.0088),
}
# Networks without a profiled time borrow the factors of a network of the same family;
# with none (MobileNetV2), the geometric mean of the factors of all profiled networks.
SAME_FAMILY = {"convnext_tiny": "convnext_large"}


def effective_speeds(graph: OperatorGraph) -> tuple[float, float]:
    """(device, server) FLOP/s that reproduce the setup's whole-model times from FLOPs alone."""
    device, server = SETUP_TIMES[graph.name]
    total = float(graph.flops().sum())
    return total / device, total / server


def operator_times(graph: OperatorGraph, processor: str, speed: float | None = None) -> np.ndarray:
    """Time (s) of every operator on ``processor``: its measured mean where the operator has
    one (the same rule as optsplit.instance.model.compute_time), else FLOPs / ``speed``."""
    out = np.empty(len(graph.operators))
    for i, op in enumerate(graph.operators):
        if processor in op.time:
            out[i] = op.time[processor].mean
        elif speed is not None and speed > 0:
            out[i] = op.flops / speed
        else:
            raise ValueError(f"operator '{op.name}' has no time for '{processor}' and no speed is given")
    return out


def scale_times(graph: OperatorGraph, source: str, target: str, factor: float, basis: str) -> OperatorGraph:
    """Add times under ``target`` = ``factor`` x the times under ``source`` (variance x factor²),
    recording the factor and its basis in the graph's ``machine`` table."""
    ops = tuple(
        replace(
            op,
            time={
                **op.time,
                target: TimeStat(
                    factor * op.time[source].mean, factor**2 * op.time[source].var, op.time[source].samples
                ),
            },
        )
        for op in graph.operators
    )
    machine = {**graph.machine, target: {"scaled_from": source, "factor": factor, "basis": basis}}
    return replace(graph, operators=ops, machine=machine)


def total_time(graph: OperatorGraph, processor: str) -> float:
    return float(sum(op.time[processor].mean for op in graph.operators))


def calibrate(graphs: dict[str, OperatorGraph], source: str = HOST) -> dict[str, OperatorGraph]:
    """Device and server times for every graph: its ``source`` times scaled so the whole model
    takes the setup's device and server time (SETUP_TIMES), or borrowed factors (SAME_FAMILY,
    else the geometric mean over the profiled networks), each basis written into ``machine``."""
    factors: dict[str, tuple[float, float]] = {}
    for name, (device, server) in SETUP_TIMES.items():
        if name in graphs:
            host = total_time(graphs[name], source)
            factors[name] = (device / host, server / host)
    if not factors:
        raise ValueError(f"calibration needs one of {', '.join(SETUP_TIMES)}")
    log_mean = np.log(np.array(list(factors.values()))).mean(axis=0)
    out = {}
    for name, graph in graphs.items():
        if name in factors:
            basis = f"whole model = Intra-DP setup's profiled time for {name}"
            f_dev, f_srv = factors[name]
        elif SAME_FAMILY.get(name) in factors:
            ref = SAME_FAMILY[name]
            basis = f"factor of {ref} (same family; no profiled time for {name})"
            f_dev, f_srv = factors[ref]
        else:
            basis = "geometric mean of the factors of " + ", ".join(sorted(factors))
            f_dev, f_srv = (float(v) for v in np.exp(log_mean))
        graph = scale_times(graph, source, DEVICE, f_dev, basis)
        out[name] = scale_times(graph, source, SERVER, f_srv, basis)
    return out
