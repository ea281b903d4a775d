"""Measure per-block inference time of a real architecture with PyTorch on this machine.

The network is built from the same description as the analytic profile (random weights:
nothing is downloaded; dense kernels take the same time whatever the values), each block
is timed separately over many runs of the whole chain, and mean, variance and the
covariance of the block times across runs go into the profile beside the analytic FLOPs,
parameters and output sizes. PyTorch is an optional
extra: ``pip install optsplit[torch]``.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from optsplit.errors import OptsplitError
from optsplit.instance.model import Profile, TimeStat
from optsplit.machine import cpu_model
from optsplit.profiles.architectures import Architecture


def require_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise OptsplitError(
            "measuring needs PyTorch: pip install 'optsplit[torch]' (pins the CPU build torch==2.13.0)"
        ) from None
    return torch


class TorchBuilder:
    """Builds each chain block as a torch.nn.Sequential, following an architecture."""

    def __init__(self, channels: int):
        self.nn = require_torch().nn
        self.channels = channels
        self.blocks: list[tuple[str, Any]] = []
        self._modules: list[Any] = []
        self._flat = False

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
    ) -> TorchBuilder:
        nn = self.nn
        self._modules.append(nn.Conv2d(self.channels, out, k, stride, pad, groups=groups, bias=bias))
        if bn:
            self._modules.append(nn.BatchNorm2d(out))
        if act:
            self._modules.append(nn.ReLU(inplace=True))
        self.channels = out
        return self

    def pool(self, k: int, stride: int, pad: int = 0, ceil: bool = False) -> TorchBuilder:
        self._modules.append(self.nn.MaxPool2d(k, stride, pad, ceil_mode=ceil))
        return self

    def adaptive_pool(self, size: int) -> TorchBuilder:
        self._modules.append(self.nn.AdaptiveAvgPool2d(size))
        return self

    def global_pool(self) -> TorchBuilder:
        return self.adaptive_pool(1)

    def linear(self, out: int, act: bool = True) -> TorchBuilder:
        if not self._flat:
            self._modules.append(self.nn.Flatten())
            self._flat = True
        self._modules.append(self.nn.LazyLinear(out))
        if act:
            self._modules.append(self.nn.ReLU(inplace=True))
        self.channels = out
        return self

    def residual(
        self, main: Callable[[Any], object], shortcut: Callable[[Any], object] | None = None, act: bool = True
    ) -> TorchBuilder:
        body = TorchBuilder(self.channels)
        main(body)
        side = TorchBuilder(self.channels)
        if shortcut is not None:
            shortcut(side)
        self._modules.append(
            _Residual(self.nn.Sequential(*body._modules), self.nn.Sequential(*side._modules), act)
        )
        self.channels = body.channels
        return self

    def cut(self, name: str) -> TorchBuilder:
        self.blocks.append((name, self.nn.Sequential(*self._modules)))
        self._modules = []
        return self


def _Residual(main: Any, side: Any, act: bool) -> Any:
    """main(x) + side(x) (side empty = identity), then ReLU when ``act``."""
    torch = require_torch()

    class Residual(torch.nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.main, self.side, self.act = main, side, act

        def forward(self, x: Any) -> Any:
            y = self.main(x) + (self.side(x) if len(self.side) else x)
            return torch.relu(y) if self.act else y

    return Residual()


def measure(
    arch: Architecture,
    processor: str,
    repeats: int = 100,
    warmup: int = 10,
    threads: int = 1,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Profile:
    """Time every block ``repeats`` times; returns the analytic profile plus measured times."""
    if repeats < 2:
        raise OptsplitError("repeats must be at least 2 to estimate a variance")
    torch = require_torch()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    builder = TorchBuilder(3)
    arch.build(builder)
    blocks = [module.eval() for _, module in builder.blocks]
    x0 = torch.randn(1, 3, 224, 224)
    times = np.zeros((repeats, len(blocks)))
    with torch.inference_mode():
        sizes = []
        x = x0
        for module in blocks:  # also materialises the lazy linear layers
            x = module(x)
            sizes.append(x.numel() * x.element_size())
        for _ in range(warmup):
            x = x0
            for module in blocks:
                x = module(x)
        for r in range(repeats):
            x = x0
            for j, module in enumerate(blocks):
                t0 = time.perf_counter()
                x = module(x)
                times[r, j] = time.perf_counter() - t0
            if progress is not None:
                progress(r + 1, repeats)
    analytic = arch.profile()
    for layer, size in zip(analytic.layers, sizes):
        if size != layer.output_bytes:
            raise OptsplitError(
                f"block '{layer.name}': PyTorch output {size} bytes, analytic {layer.output_bytes}"
            )
    mean, cov = times.mean(axis=0), sample_covariance(times)
    layers = tuple(
        replace(layer, time={**layer.time, processor: TimeStat(float(m), float(v), repeats)})
        for layer, m, v in zip(analytic.layers, mean, np.diagonal(cov))
    )
    machine = {processor: timing_record(threads, repeats, warmup, seed)}
    machine[processor]["chain_variance_ratio"] = variance_ratio(cov)
    derivation = (
        analytic.derivation + f" Times under '{processor}': measured with "
        f"`optsplit profile` (PyTorch {torch.__version__}, {threads} thread(s), "
        f"batch 1, {repeats} runs after {warmup} warm-up runs, random weights); "
        "`covariance` is the sample covariance of the block times over the same runs."
    )
    table = tuple(tuple(float(x) for x in row) for row in cov)
    return replace(
        analytic,
        layers=layers,
        derivation=derivation,
        machine=machine,
        covariance={**analytic.covariance, processor: table},
    )


def sample_covariance(times: np.ndarray) -> np.ndarray:
    """Unbiased covariance of block times (runs x blocks), exactly symmetric; its diagonal is
    the blocks' sample variance."""
    cov = np.cov(times, rowvar=False, ddof=1).reshape(times.shape[1], times.shape[1])
    return (cov + cov.T) / 2


def variance_ratio(cov: np.ndarray) -> float:
    """Variance of the whole chain over the sum of block variances (1 for independent blocks)."""
    return float(cov.sum() / np.trace(cov)) if np.trace(cov) > 0 else 1.0


def timing_record(threads: int, repeats: int, warmup: int, seed: int) -> dict[str, Any]:
    """Where and how times were measured, stored beside them in a profile's `machine` table."""
    torch = require_torch()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "repeats": repeats,
        "warmup": warmup,
        "seed": seed,
        "batch": 1,
        "dtype": "float32",
        "load_average": os.getloadavg()[0],
    }
