"""Exporting models to files other solvers read (.lp, .mps through HiGHS; .nl through Pyomo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optsplit.errors import InputError, OptionError

MODEL_SUFFIXES = (".lp", ".mps", ".nl")


def check_model_path(path: Any) -> Path:
    """Refuse, before any solving, a model file that cannot be written: an unknown suffix or
    a folder that does not exist (InputError at path ``write_model``)."""
    if not isinstance(path, (str, Path)):
        raise OptionError(f"write_model must be a path, got {type(path).__name__}")
    target = Path(path)
    if target.suffix.lower() not in MODEL_SUFFIXES:
        raise InputError(
            f"cannot write a model as '{target.suffix or target.name}': use {', '.join(MODEL_SUFFIXES)}",
            source=str(target),
            path="write_model",
        )
    if not target.parent.is_dir():
        raise InputError(f"folder '{target.parent}' does not exist", source=str(target), path="write_model")
    return target


def write_linear_model(model: Any, path: Path) -> None:
    """Write a LinearModel to ``path``: .lp and .mps through HiGHS, .nl through Pyomo."""
    check_model_path(path)
    if Path(path).suffix.lower() == ".nl":
        from optsplit.solvers.pyomo_backend import linear_to_pyomo

        linear_to_pyomo(model)[0].write(str(path))
    else:
        from optsplit.solvers.highs import write_linear_model as write_with_highs

        write_with_highs(model, Path(path))
