"""A solver-neutral LP/MILP in matrix form, as formulations build it (vectorised)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class LinearModel:
    """min c·x + offset  s.t.  row_lower ≤ A x ≤ row_upper,  col_lower ≤ x ≤ col_upper.

    ``integer`` marks integer columns; infinite bounds are ±numpy.inf. Names are optional
    and only used when the model is written to a file.
    """

    c: np.ndarray
    A: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    offset: float = 0.0
    col_names: list[str] | None = None
    row_names: list[str] | None = None

    def __post_init__(self) -> None:
        n, m = self.c.size, self.A.shape[0]
        if self.A.shape[1] != n:
            raise ValueError(f"A has {self.A.shape[1]} columns, c has {n}")
        for name, arr, size in (
            ("row_lower", self.row_lower, m),
            ("row_upper", self.row_upper, m),
            ("col_lower", self.col_lower, n),
            ("col_upper", self.col_upper, n),
            ("integer", self.integer, n),
        ):
            if arr.shape != (size,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({size},)")

    @property
    def num_cols(self) -> int:
        return int(self.c.size)

    @property
    def num_rows(self) -> int:
        return int(self.A.shape[0])

    @property
    def is_mip(self) -> bool:
        return bool(self.integer.any())

    def objective_of(self, x: np.ndarray) -> float:
        return float(self.c @ x + self.offset)

    def as_lp_relaxation(self) -> LinearModel:
        """The same model with integrality dropped."""
        return LinearModel(
            self.c,
            self.A,
            self.row_lower,
            self.row_upper,
            self.col_lower,
            self.col_upper,
            np.zeros_like(self.integer),
            self.offset,
            self.col_names,
            self.row_names,
        )

    def drop_empty_rows(self) -> tuple[LinearModel, int | None]:
        """The model without rows that have no entries, and the first such row that no x
        can satisfy (0 outside its bounds), if any: a trivial presolve every back-end shares."""
        counts = np.diff(sp.csr_matrix(self.A).indptr)
        empty = counts == 0
        bad = np.flatnonzero(empty & ((self.row_lower > 0) | (self.row_upper < 0)))
        if not empty.any():
            return self, None
        keep = ~empty
        names = None if self.row_names is None else [n for n, k in zip(self.row_names, keep) if k]
        reduced = LinearModel(
            self.c,
            sp.csr_matrix(self.A)[keep],
            self.row_lower[keep],
            self.row_upper[keep],
            self.col_lower,
            self.col_upper,
            self.integer,
            self.offset,
            self.col_names,
            names,
        )
        return reduced, (int(bad[0]) if bad.size else None)
