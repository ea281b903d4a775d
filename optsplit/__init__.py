"""optsplit: optimization models and exact references for split DNN inference.

The public names are imported on first use (PEP 562), so `import optsplit` and the
command line start without numpy, scipy or any solver until a command needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from optsplit.errors import (
    InputError,
    OptionError,
    OptsplitError,
    SolverError,
    SolverUnavailableError,
    UnknownNameError,
)

if TYPE_CHECKING:
    from optsplit.instance import Instance, from_dict, load, load_profile
    from optsplit.instance.limits import ReadLimits
    from optsplit.problem import CheckReport, check, get_formulation, register_formulation, solve
    from optsplit.result import Evaluation, Result, SolutionStatus, Status, Termination
    from optsplit.solvers.registry import register_backend

_LAZY = {
    "Instance": "optsplit.instance",
    "from_dict": "optsplit.instance",
    "load": "optsplit.instance",
    "load_profile": "optsplit.instance",
    "ReadLimits": "optsplit.instance.limits",
    "CheckReport": "optsplit.problem",
    "check": "optsplit.problem",
    "get_formulation": "optsplit.problem",
    "register_formulation": "optsplit.problem",
    "solve": "optsplit.problem",
    "Evaluation": "optsplit.result",
    "Result": "optsplit.result",
    "SolutionStatus": "optsplit.result",
    "Status": "optsplit.result",
    "Termination": "optsplit.result",
    "register_backend": "optsplit.solvers.registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'optsplit' has no attribute '{name}'")


__version__ = "0.1.0"
__all__ = [
    "CheckReport",
    "Evaluation",
    "InputError",
    "Instance",
    "OptionError",
    "OptsplitError",
    "ReadLimits",
    "Result",
    "SolutionStatus",
    "SolverError",
    "SolverUnavailableError",
    "Status",
    "Termination",
    "UnknownNameError",
    "check",
    "from_dict",
    "get_formulation",
    "load",
    "load_profile",
    "register_backend",
    "register_formulation",
    "solve",
]
