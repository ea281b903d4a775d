"""One protocol for solver back-ends and one registry that finds them by name.

A back-end knows nothing about DNNs: it solves a model of the kinds it accepts and hands
back an Outcome. Built-in back-ends are registered by import path and imported only when
used (so `import optsplit` stays light); third parties register objects with
``register()`` or through the ``optsplit.backends`` entry-point group, without editing
optsplit. Modelled on Pyomo's SolverFactory and CVXPY's solver-instance argument.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from optsplit.errors import OptionError, SolverUnavailableError, UnknownNameError
from optsplit.solvers.options import Outcome, SolveOptions

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "optsplit.backends"


class ModelKind(str, Enum):
    """What a method builds and a back-end accepts."""

    LINEAR = "linear"  # optsplit.solvers.linear.LinearModel (LP / MILP in matrix form)
    PYOMO = "pyomo"  # a Pyomo ConcreteModel (MILP, MINLP)
    CVXPY = "cvxpy"  # a CVXPY Problem (convex, mixed-integer conic)
    GRAPH = "graph"  # optsplit.solvers.graph.PathQuery (shortest path on an edge list)
    CP = "cp"  # an OR-Tools CP-SAT model (scheduling)


@runtime_checkable
class Backend(Protocol):
    """A route to a solver. ``solve`` must honour the SolveOptions and never print."""

    name: str
    description: str
    kinds: frozenset[ModelKind]
    integers: bool  # whether it solves models with integer variables

    def available(self) -> tuple[bool, str]:
        """Whether it can run here, and the reason when it cannot."""
        ...

    def version(self) -> str:
        """The solver's name and version, as recorded in results and benchmark rows."""
        ...

    def solve(self, model: Any, options: SolveOptions, start: Any = None) -> Outcome:
        """Solve ``model``; ``start`` is a feasible point the back-end may use or ignore."""
        ...


@dataclass
class LazyBackend:
    """A back-end known by its import path; the module is imported on first use only."""

    name: str
    description: str
    kinds: frozenset[ModelKind]
    target: str  # "package.module:factory"
    args: tuple[Any, ...] = ()
    integers: bool = True
    _loaded: Backend | None = field(default=None, repr=False)

    def load(self) -> Backend:
        """Import the module and build the back-end once (persistent across solves)."""
        if self._loaded is None:
            module, _, attr = self.target.partition(":")
            factory = getattr(importlib.import_module(module), attr)
            self._loaded = factory(*self.args)
        return self._loaded


class BackendRegistry:
    """Back-ends by name: built-ins, objects registered at run time, and entry points."""

    def __init__(self, builtins: Iterable[LazyBackend] = ()) -> None:
        self._entries: dict[str, LazyBackend | Backend] = {b.name: b for b in builtins}
        self._entry_points_read = False

    def register(self, backend: Backend | LazyBackend, *, replace: bool = False) -> None:
        """Add a back-end; refuses to shadow an existing name unless ``replace``."""
        if not isinstance(backend, (Backend, LazyBackend)):
            raise OptionError(f"{backend!r} does not implement the Backend protocol")
        self._read_entry_points()
        if backend.name in self._entries and not replace:
            raise OptionError(f"a back-end named '{backend.name}' is already registered")
        self._entries[backend.name] = backend

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def _read_entry_points(self) -> None:
        if self._entry_points_read:
            return
        self._entry_points_read = True
        for point in entry_points(group=ENTRY_POINT_GROUP):
            if point.name in self._entries:
                log.warning("entry point back-end '%s' ignored: the name is taken", point.name)
                continue
            try:
                loaded = point.load()
                backend = loaded() if isinstance(loaded, type) else loaded
            except Exception as exc:  # a broken plug-in must not break optsplit
                log.warning("entry point back-end '%s' failed to load: %s", point.name, exc)
                continue
            if isinstance(backend, Backend):
                self._entries[point.name] = backend
            else:
                log.warning("entry point '%s' is not a Backend; ignored", point.name)

    def names(self, kinds: Iterable[ModelKind] | None = None, integers: bool = False) -> list[str]:
        """Registered names accepting any of ``kinds`` (all when None), in registration order."""
        self._read_entry_points()
        wanted = None if kinds is None else set(kinds)
        return [
            name
            for name, entry in self._entries.items()
            if (wanted is None or wanted & set(entry.kinds)) and (entry.integers or not integers)
        ]

    def entry(self, name: str) -> LazyBackend | Backend:
        """The registration of ``name`` (nothing imported)."""
        self._read_entry_points()
        if name not in self._entries:
            raise UnknownNameError("back-end", name, list(self._entries))
        return self._entries[name]

    def get(self, name: str) -> Backend:
        """The back-end object, imported on first use; raises when it cannot run here."""
        entry = self.entry(name)
        backend = entry.load() if isinstance(entry, LazyBackend) else entry
        ok, why = backend.available()
        if not ok:
            raise SolverUnavailableError(f"back-end '{name}' is unavailable: {why}")
        return backend

    def status(self, name: str) -> tuple[bool, str, str]:
        """(available, reason when not, version) of a back-end; a failed import counts as unavailable."""
        entry = self.entry(name)
        try:
            backend = entry.load() if isinstance(entry, LazyBackend) else entry
            ok, why = backend.available()
            return ok, why, backend.version() if ok else ""
        except Exception as exc:  # a missing shared library surfaces as anything
            return False, f"{type(exc).__name__}: {exc}", ""


def _builtins() -> list[LazyBackend]:
    linear, pyomo, cvxpy_ = ModelKind.LINEAR, ModelKind.PYOMO, ModelKind.CVXPY
    pyomo_target = "optsplit.solvers.pyomo_backend:PyomoBackend"
    cvxpy_target = "optsplit.solvers.cvxpy_backend:CvxpyBackend"
    return [
        LazyBackend(
            "highs",
            "HiGHS through highspy, model passed as arrays",
            frozenset({linear}),
            "optsplit.solvers.highs:HighsBackend",
        ),
        LazyBackend(
            "pyomo-highs", "HiGHS through Pyomo", frozenset({linear, pyomo}), pyomo_target, ("highs",)
        ),
        LazyBackend(
            "pyomo-scip",
            "SCIP through Pyomo (scip_direct), global MINLP",
            frozenset({linear, pyomo}),
            pyomo_target,
            ("scip",),
        ),
        LazyBackend(
            "cvxpy-highs", "HiGHS through CVXPY", frozenset({linear, cvxpy_}), cvxpy_target, ("highs",)
        ),
        LazyBackend("cvxpy-scip", "SCIP through CVXPY", frozenset({linear, cvxpy_}), cvxpy_target, ("scip",)),
        LazyBackend(
            "cvxpy-clarabel",
            "Clarabel (interior point, no integers) through CVXPY",
            frozenset({linear, cvxpy_}),
            cvxpy_target,
            ("clarabel",),
            integers=False,
        ),
        LazyBackend(
            "scipy",
            "Dijkstra of scipy.sparse.csgraph",
            frozenset({ModelKind.GRAPH}),
            "optsplit.solvers.graph:ScipyDijkstra",
            integers=False,
        ),
    ]


BACKENDS = BackendRegistry(_builtins())


def register_backend(backend: Backend | LazyBackend, *, replace: bool = False) -> None:
    """Make a back-end available to every method that builds a model of its kinds."""
    BACKENDS.register(backend, replace=replace)
