"""Shape tracing of CNN layers: FLOPs, parameters and output size from the architecture.

Conventions (stated in every derived profile): FLOPs = 2 × multiply-accumulates for
convolutions and linear layers; pooling costs one operation per window element; a
residual addition one per element; batch-norm and ReLU are folded into the preceding
convolution at inference time and cost nothing; tensors are float32 (4 bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from optsplit.instance.model import Layer

BYTES_PER_ELEMENT = 4


class BlockCutter:
    """What every tracer shares: FLOPs and parameters accumulate until ``cut`` closes a block."""

    layers: list[Layer]
    _flops: float
    _params: float

    @property
    def elements(self) -> int:
        raise NotImplementedError

    def cut(self, name: str) -> Layer:
        """Close the current block as one layer whose output is the current tensor."""
        layer = Layer(name, self._flops, float(self.elements * BYTES_PER_ELEMENT), self._params)
        self.layers.append(layer)
        self._flops = self._params = 0.0
        return layer


@dataclass
class Tracer(BlockCutter):
    """Follows a (C, H, W) tensor through layers and collects them into chain blocks."""

    channels: int
    height: int
    width: int
    layers: list[Layer] = field(default_factory=list)
    _flops: float = 0.0
    _params: float = 0.0

    @property
    def elements(self) -> int:
        return self.channels * self.height * self.width

    @property
    def input_bytes(self) -> int:
        return self.elements * BYTES_PER_ELEMENT

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
    ) -> Tracer:
        h = (self.height + 2 * pad - k) // stride + 1
        w = (self.width + 2 * pad - k) // stride + 1
        macs = (self.channels // groups) * k * k * out * h * w
        self._flops += 2.0 * macs
        self._params += (
            (self.channels // groups) * k * k * out + (out if bias else 0) + (2 * out if bn else 0)
        )
        self.channels, self.height, self.width = out, h, w
        return self

    def pool(self, k: int, stride: int, pad: int = 0, ceil: bool = False) -> Tracer:
        def size(n: int) -> int:
            span = n + 2 * pad - k
            return -(-span // stride) + 1 if ceil else span // stride + 1

        self.height, self.width = size(self.height), size(self.width)
        self._flops += k * k * self.elements
        return self

    def global_pool(self) -> Tracer:
        self._flops += self.elements
        self.height = self.width = 1
        return self

    def adaptive_pool(self, size: int) -> Tracer:
        """Adaptive average pool to size×size (a no-op on shape when it already matches)."""
        if (self.height, self.width) != (size, size):
            self._flops += self.elements
            self.height = self.width = size
        return self

    def linear(self, out: int, act: bool = True, bn: bool = False) -> Tracer:
        n_in = self.elements
        self._flops += 2.0 * n_in * out
        self._params += n_in * out + out + (2 * out if bn else 0)
        self.channels, self.height, self.width = out, 1, 1
        return self

    def residual(
        self,
        main: Callable[[Tracer], object],
        shortcut: Callable[[Tracer], object] | None = None,
        act: bool = True,
    ) -> Tracer:
        """main(x) + shortcut(x) (identity when None); the addition costs one per element."""
        side = Tracer(self.channels, self.height, self.width)
        if shortcut is not None:
            shortcut(side)
        main(self)
        self._flops += side._flops + self.elements
        self._params += side._params
        return self

    def transform(self, net: Callable[[Tracer], object]) -> Tracer:
        """Treat the tensor as H·W points of C features and multiply it by the C×C matrix
        that ``net`` computes from it (PointNet's T-Net): net's cost + 2·C²·H·W."""
        side = Tracer(self.channels, self.height, self.width)
        net(side)
        if side.elements != self.channels**2:
            raise ValueError(f"transform net yields {side.elements} values, not {self.channels}²")
        self._flops += side._flops + 2.0 * self.channels**2 * self.height * self.width
        self._params += side._params
        return self
