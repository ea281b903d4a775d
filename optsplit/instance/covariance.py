"""Checks of a profile's per-processor covariance of layer times: square L×L, symmetric,
diagonal equal to the layers' variances, positive semidefinite; errors name the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from optsplit.errors import InputError
from optsplit.instance.messages import quoted, shown
from optsplit.instance.model import Layer

# Relative tolerances: the matrix is written with 17 significant digits, so a file made by
# `optsplit profile` meets them exactly; one typed or rounded by hand has this much slack.
SYMMETRY = 1e-9  # |C_ij − C_ji| ≤ SYMMETRY · max_k C_kk
DIAGONAL = 1e-6  # |C_ii − var_i| ≤ DIAGONAL · max(C_ii, var_i)
PSD = 1e-9  # smallest eigenvalue ≥ −PSD · largest


def covariances(
    raw: Mapping[str, Sequence[Sequence[float]]], layers: Sequence[Layer], source: str | None, at: str
) -> dict[str, tuple[tuple[float, ...], ...]]:
    """The validated covariance tables of a profile, per processor kind."""
    return {str(key): _matrix(key, rows, layers, source, at) for key, rows in raw.items()}


def _matrix(
    key: str, rows: Sequence[Sequence[float]], layers: Sequence[Layer], source: str | None, at: str
) -> tuple[tuple[float, ...], ...]:
    field = f"{at}.covariance.{shown(key)}" if at else f"covariance.{shown(key)}"

    def fail(message: str, where: str = "") -> InputError:
        return InputError(message, source=source, path=field + where)

    depth = len(layers)
    if len(rows) != depth:
        raise fail(f"expected {depth} rows (one per layer), got {len(rows)}")
    for i, row in enumerate(rows):
        if len(row) != depth:
            raise fail(f"expected {depth} entries (one per layer), got {len(row)}", f"[{i}]")
    for j, layer in enumerate(layers):
        if key not in layer.time:
            raise fail(f"layer {j + 1} {quoted(layer.name)} has no time for processor {quoted(key)}")
    c = np.array(rows, dtype=float)
    var = np.array([layer.time[key].var for layer in layers])
    diag = np.diag(c)
    scale = max(float(diag.max()), 0.0)
    asym = np.abs(c - c.T)
    if asym.max() > SYMMETRY * scale:
        r, q = (int(x) for x in np.unravel_index(int(asym.argmax()), asym.shape))
        pair = f"[{r}][{q}] = {float(c[r, q])!r} but [{q}][{r}] = {float(c[q, r])!r}"
        raise fail(f"not symmetric: {pair}", f"[{r}][{q}]")
    off = np.abs(diag - var) > DIAGONAL * np.maximum(np.abs(diag), var)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        stated = f"layers[{i}].time.{shown(key)}.var = {float(var[i])!r}"
        raise fail(f"diagonal {float(diag[i])!r} differs from {stated}", f"[{i}][{i}]")
    eig = np.linalg.eigvalsh((c + c.T) / 2)
    if eig[0] < -PSD * max(float(eig[-1]), 0.0):
        raise fail(f"not positive semidefinite: smallest eigenvalue {eig[0]:.3g}, largest {eig[-1]:.3g}")
    return tuple(tuple(float(x) for x in row) for row in c)


def matrix_rows(table: tuple[tuple[float, ...], ...]) -> list[list[float]]:
    """The file form of a covariance table."""
    return [list(row) for row in table]
