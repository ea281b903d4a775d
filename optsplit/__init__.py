"""optsplit: optimization models and exact references for split DNN inference."""

from optsplit.errors import (
    InputError,
    OptionError,
    OptsplitError,
    SolverError,
    SolverUnavailableError,
    UnknownNameError,
)
from optsplit.instance import Instance, from_dict, load, load_profile
from optsplit.instance.limits import ReadLimits
from optsplit.problem import (
    CheckReport,
    Evaluation,
    check,
    get_formulation,
    register_formulation,
    solve,
)
from optsplit.result import Result, SolutionStatus, Status, Termination
from optsplit.solvers.registry import register_backend

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
