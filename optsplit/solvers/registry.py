"""One protocol for solver back-ends and the registry that finds them by name.

A back-end knows nothing about DNNs: it solves a model of the kinds it accepts and hands
back an Outcome. Built-ins are registered by import path and imported only when used
(`import optsplit` does not load HiGHS, Pyomo, CVXPY or SCIP); third parties register
objects with ``register_backend()`` or in the ``optsplit.backends`` entry-point group.
Modelled on Pyomo's SolverFactory and on CVXPY accepting a solver instance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol, runtime_checkable

from optsplit.errors import SolverUnavailableError
from optsplit.plugins import Lazy, Registry
from optsplit.solvers.options import Outcome, SolveOptions


class ModelKind(str, Enum):
    """What a method builds and a back-end accepts."""

    LINEAR = "linear"  # optsplit.solvers.linear.LinearModel (LP / MILP in matrix form)
    PYOMO = "pyomo"  # a Pyomo ConcreteModel (MILP, MINLP)
    CVXPY = "cvxpy"  # a CVXPY Problem (convex, mixed-integer conic)
    GRAPH = "graph"  # optsplit.solvers.graph.PathQuery (shortest path on a sparse graph)
    CP = "cp"  # an OR-Tools CP-SAT model (scheduling)


@runtime_checkable
class Backend(Protocol):
    """A route to a solver. ``solve`` honours the SolveOptions and never prints."""

    name: str
    description: str
    kinds: frozenset[ModelKind]
    integers: bool  # whether it solves models with integer variables
    nonlinear: bool  # whether it solves nonlinear (convex conic or general) models

    def available(self) -> tuple[bool, str]:
        """Whether it can run here, and the reason when it cannot."""
        ...

    def version(self) -> str:
        """The solver's name and version, as recorded in results and benchmark rows."""
        ...

    def solve(self, model: Any, options: SolveOptions, start: Any = None) -> Outcome:
        """Solve ``model``; ``start`` is a feasible point the back-end may use or ignore."""
        ...


@dataclass(frozen=True)
class BuiltinInfo:
    """What is known of a built-in back-end without importing its solver."""

    description: str
    kinds: frozenset[ModelKind]
    integers: bool
    nonlinear: bool
    target: Lazy
    packages: tuple[str, ...] = ()  # distributions it needs: checked without importing them


BACKENDS: Registry[Backend] = Registry("back-end", "optsplit.backends", lambda b: isinstance(b, Backend))

_LINEAR, _PYOMO, _CVXPY = ModelKind.LINEAR, ModelKind.PYOMO, ModelKind.CVXPY
_PYOMO_CLS, _CVXPY_CLS = (
    "optsplit.solvers.pyomo_backend:PyomoBackend",
    "optsplit.solvers.cvxpy_backend:CvxpyBackend",
)
BUILTINS: dict[str, BuiltinInfo] = {
    "highs": BuiltinInfo(
        "HiGHS through highspy, model passed as arrays",
        frozenset({_LINEAR}),
        True,
        False,
        Lazy("optsplit.solvers.highs:HighsBackend"),
        ("highspy",),
    ),
    "pyomo-highs": BuiltinInfo(
        "HiGHS through Pyomo",
        frozenset({_LINEAR, _PYOMO}),
        True,
        False,
        Lazy(_PYOMO_CLS, ("highs",)),
        ("pyomo", "highspy"),
    ),
    "pyomo-scip": BuiltinInfo(
        "SCIP through Pyomo (scip_direct): MILP and global MINLP",
        frozenset({_LINEAR, _PYOMO}),
        True,
        True,
        Lazy(_PYOMO_CLS, ("scip",)),
        ("pyomo", "pyscipopt"),
    ),
    "cvxpy-highs": BuiltinInfo(
        "HiGHS through CVXPY",
        frozenset({_LINEAR, _CVXPY}),
        True,
        False,
        Lazy(_CVXPY_CLS, ("highs",)),
        ("cvxpy", "highspy"),
    ),
    "cvxpy-scip": BuiltinInfo(
        "SCIP through CVXPY (LP, MILP, SOCP)",
        frozenset({_LINEAR, _CVXPY}),
        True,
        False,
        Lazy(_CVXPY_CLS, ("scip",)),
        ("cvxpy", "pyscipopt"),
    ),
    "cvxpy-clarabel": BuiltinInfo(
        "Clarabel (interior point, no integers) through CVXPY",
        frozenset({_LINEAR, _CVXPY}),
        False,
        True,
        Lazy(_CVXPY_CLS, ("clarabel",)),
        ("cvxpy", "clarabel"),
    ),
    "cpsat": BuiltinInfo(
        "CP-SAT (OR-Tools): constraint programming for scheduling",
        frozenset({ModelKind.CP}),
        True,
        False,
        Lazy("optsplit.solvers.cpsat:CpSatBackend"),
        ("ortools",),
    ),
    "scipy": BuiltinInfo(
        "Dijkstra of scipy.sparse.csgraph",
        frozenset({ModelKind.GRAPH}),
        False,
        False,
        Lazy("optsplit.solvers.graph:ScipyDijkstra"),
        ("scipy",),
    ),
}
for _name, _info in BUILTINS.items():
    BACKENDS.add_builtin(_name, _info.target)


def register_backend(backend: Backend, *, replace: bool = False) -> None:
    """Make a back-end object available to every method that builds a model of its kinds."""
    BACKENDS.register(backend.name, backend, replace=replace)


def backend_traits(name: str) -> tuple[frozenset[ModelKind], bool, bool]:
    """(model kinds, integers, nonlinear) of a back-end; a built-in is not imported for it."""
    info = BUILTINS.get(name)
    if info is not None and BACKENDS.get_if_loaded(name) is None:
        return info.kinds, info.integers, info.nonlinear
    backend = BACKENDS.get(name)
    return frozenset(backend.kinds), bool(backend.integers), bool(backend.nonlinear)


def backend_names(kinds: Iterable[ModelKind], integers: bool = False, nonlinear: bool = False) -> list[str]:
    """Registered back-ends accepting one of ``kinds`` (with integers / nonlinear terms when
    asked), in registration order; nothing is imported for built-ins."""
    wanted = set(kinds)
    out = []
    for name in BACKENDS.names():
        try:
            accepts, has_integers, has_nonlinear = backend_traits(name)
        except Exception:  # a plug-in that fails to load is listed by `optsplit list`, not here
            continue
        if accepts & wanted and (has_integers or not integers) and (has_nonlinear or not nonlinear):
            out.append(name)
    return out


def get_backend(name: str) -> Backend:
    """The back-end object, imported on first use; raises when it cannot run here."""
    backend = BACKENDS.get(name)
    ok, why = backend.available()
    if not ok:
        raise SolverUnavailableError(f"back-end '{name}' is unavailable: {why}")
    return backend


def backend_status(name: str, deep: bool = False) -> tuple[bool, str, str]:
    """(available, the reason when not, version); a failed import counts as unavailable.

    For a built-in not yet imported, and unless ``deep``, the answer comes from the installed
    distributions' metadata (nothing is imported, so `optsplit list` stays fast)."""
    info = BUILTINS.get(name)
    if info is not None and not deep and BACKENDS.get_if_loaded(name) is None:
        return _installed(info.packages)
    try:
        backend = BACKENDS.get(name)
        ok, why = backend.available()
        return ok, why, backend.version() if ok else ""
    except Exception as exc:  # a missing shared library surfaces as anything
        return False, f"{type(exc).__name__}: {exc}", ""


def _installed(packages: tuple[str, ...]) -> tuple[bool, str, str]:
    versions = []
    for package in packages:
        try:
            versions.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            return False, f"package '{package}' is not installed", ""
    return True, "", ", ".join(versions)
