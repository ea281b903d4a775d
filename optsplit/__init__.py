"""optsplit: optimization models and exact references for split DNN inference."""

from optsplit.errors import InputError, OptsplitError, SolverUnavailableError, UnknownNameError
from optsplit.instance import Instance, from_dict, load, load_profile
from optsplit.problem import CheckReport, Evaluation, check, formulations, solve
from optsplit.result import Result, SolutionStatus, Status, Termination

__version__ = "0.1.0"
__all__ = [
    "CheckReport",
    "Evaluation",
    "InputError",
    "Instance",
    "OptsplitError",
    "Result",
    "SolutionStatus",
    "SolverUnavailableError",
    "Status",
    "Termination",
    "UnknownNameError",
    "check",
    "formulations",
    "from_dict",
    "load",
    "load_profile",
    "solve",
]
