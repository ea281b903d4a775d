"""What can run here: each formulation's methods and back-ends, with the reason when not."""

from __future__ import annotations

from dataclasses import dataclass

from optsplit.problem import formulations
from optsplit.solvers import LINEAR_BACKENDS


@dataclass(frozen=True)
class MethodRow:
    formulation: str
    method: str
    kind: str
    backend: str
    available: bool
    reason: str
    description: str


def backend_status(backend: str) -> tuple[bool, str]:
    """Availability of a back-end name as formulations use them."""
    if backend in LINEAR_BACKENDS:
        return LINEAR_BACKENDS[backend].available()
    if backend.startswith("pyomo-"):
        from optsplit.solvers.pyomo_backend import pyomo_available

        return pyomo_available(backend.removeprefix("pyomo-"))
    if backend.startswith("cvxpy-"):
        from optsplit.solvers.cvxpy_backend import cvxpy_available

        return cvxpy_available(backend.removeprefix("cvxpy-"))
    return True, ""


def method_rows() -> list[MethodRow]:
    rows = []
    for key, form in formulations().items():
        for name, method in form.methods().items():
            for backend in method.backends or ("-",):
                ok, why = backend_status(backend)
                rows.append(MethodRow(key, name, method.kind, backend, ok, why, method.description))
    return rows
