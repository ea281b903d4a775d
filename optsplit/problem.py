"""Problem side of optsplit: the Formulation protocol, the registry, solve() and check()."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from optsplit.errors import InputError, OptionError, UnknownNameError
from optsplit.instance.model import Instance
from optsplit.result import Evaluation, Result
from optsplit.solvers.export import check_model_path
from optsplit.solvers.options import SolveOptions
from optsplit.solvers.registry import Backend, ModelKind, backend_names
from optsplit.spec import Generator, Section

if TYPE_CHECKING:
    from optsplit.bench.runner import Suite
from optsplit.tolerances import OBJECTIVE_RELATIVE


@dataclass(frozen=True)
class Method:
    """One way to solve a formulation: an exact model, a paper's algorithm or a baseline.

    A method declares the model kinds it builds (and whether they hold integer or nonlinear
    terms); its back-ends are every registered back-end that accepts them, ``default_backend``
    first, so a back-end registered later serves it without any edit here. A method that
    builds no model (enumeration, a heuristic in numpy) declares none.
    """

    name: str
    description: str
    kind: str  # "exact", "reference", "heuristic" or "baseline"
    run: Callable[[Any, Any, SolveOptions], Result]
    models: tuple[ModelKind, ...] = ()
    default_backend: str | None = None
    integers: bool = False
    nonlinear: bool = False
    writes_model: bool = False  # whether `write_model` can export what it solves

    @property
    def backends(self) -> tuple[str, ...]:
        """Names of the registered back-ends that can solve this method's model, default first."""
        if not self.models:
            return ()
        names = backend_names(self.models, self.integers, self.nonlinear)
        first = [self.default_backend] if self.default_backend in names else []
        return (*first, *(n for n in names if n != self.default_backend))


class Formulation(Protocol):
    """A paper's problem: what it needs from an instance, how it is solved, how a plan scores."""

    key: str
    title: str
    reference: str
    objective_name: str  # what the objective measures, with its unit: "end-to-end latency [s]"
    sense: str  # "minimize" or "maximize"
    default_method: str
    plan_legend: str  # how to read the plan as the CLI prints it

    def methods(self) -> Mapping[str, Method]: ...

    def prepare(self, instance: Instance) -> Any:
        """Check the instance has what this formulation needs; return its numeric data."""
        ...

    def evaluate(self, instance: Instance, plan: Mapping[str, Any]) -> Evaluation:
        """Score a plan from the instance alone (never from the model that produced it)."""
        ...

    def generators(self) -> Mapping[str, Generator]:
        """Random-instance generators by name (``optsplit generate NAME``)."""
        ...

    def suites(self) -> Mapping[str, Suite]:
        """Benchmark suites by name (``optsplit bench NAME``)."""
        ...

    def sections(self) -> Mapping[str, Section]:
        """The top-level instance tables this formulation owns (schema fragment + builder)."""
        ...


def formulations() -> dict[str, Formulation]:
    """All registered formulations by key (each imported on first use)."""
    from optsplit.formulations import FORMULATIONS

    return dict(FORMULATIONS.items())


def register_formulation(formulation: Formulation, *, replace: bool = False) -> None:
    """Make a formulation object available to solve(), check() and every CLI command."""
    from optsplit.formulations import FORMULATIONS

    FORMULATIONS.register(formulation.key, formulation, replace=replace)


def generators() -> dict[str, Generator]:
    """Every registered formulation's instance generators, by name (names are unique)."""
    out: dict[str, Generator] = {}
    for key, form in formulations().items():
        for name, gen in form.generators().items():
            if name in out:
                raise OptionError(f"generator '{name}' of '{key}' clashes with one of another formulation")
            out[name] = gen
    return out


def get_formulation(key: str) -> Formulation:
    from optsplit.formulations import FORMULATIONS

    return FORMULATIONS.get(key)


def resolve_formulation(instance: Instance, key: str | None) -> Formulation:
    """The formulation asked for, else the instance's default."""
    chosen = key or instance.formulation
    if chosen is None:
        raise InputError(
            'no formulation given and the instance names none (add `formulation = "…"` or pass one)',
            source=instance.source,
            path="formulation",
        )
    return get_formulation(chosen)


def solve(
    instance: Instance,
    formulation: str | None = None,
    solver: str | None = None,
    *,
    backend: str | Backend | None = None,
    time_limit: float | None = None,
    mip_gap: float = 0.0,
    threads: int | None = None,
    seed: int = 0,
    verbose: bool = False,
    write_model: str | Path | None = None,
    solver_options: Mapping[str, Any] | None = None,
    **unknown: Any,
) -> Result:
    """Solve ``instance`` with a formulation's method; always returns a Result.

    ``solver`` names a method of the formulation (its default when None); ``backend``
    picks the solver back-end where the method offers several (a registered name, or a
    Backend object the caller built, as CVXPY accepts a solver instance); ``solver_options`` are
    handed to the back-end's solver as they are (HiGHS option names, SCIP parameters…).
    Wrong types, out-of-range values and unknown keywords raise OptionError.
    """
    if unknown:
        raise OptionError(_unknown_keywords(unknown))
    if not isinstance(instance, Instance):
        raise OptionError(
            f"solve() takes a loaded Instance, got {type(instance).__name__} {instance!r:.60}; "
            "load the file first: optsplit.solve(optsplit.load(path), ...)"
        )
    _check_names(formulation=formulation, solver=solver)
    if backend is not None and not isinstance(backend, (str, Backend)):
        raise OptionError(f"backend must be a name or a Backend object, got {type(backend).__name__}")
    form = resolve_formulation(instance, formulation)
    methods = form.methods()
    name = solver or form.default_method
    if name not in methods:
        raise UnknownNameError(f"solver for '{form.key}'", name, list(methods))
    method = methods[name]
    if isinstance(backend, Backend):
        if not method.models or not set(method.models) & set(backend.kinds):
            raise OptionError(
                f"back-end '{backend.name}' accepts {sorted(k.value for k in backend.kinds)}; "
                f"'{form.key}/{name}' builds {[k.value for k in method.models] or 'no model'}"
            )
    elif backend is not None and backend not in method.backends:
        raise UnknownNameError(f"back-end for '{form.key}/{name}'", backend, list(method.backends))
    options = make_options(time_limit, mip_gap, threads, seed, verbose, write_model, solver_options)
    if write_model is not None and not method.writes_model:
        exporters = [n for n, m in methods.items() if m.writes_model]
        raise InputError(
            f"solver '{name}' builds no model to write; solvers of '{form.key}' "
            f"that do: {', '.join(exporters) or 'none'}",
            path="write_model",
        )
    data = form.prepare(instance)
    result = method.run(data, backend or (method.backends[0] if method.backends else None), options)
    result.formulation, result.solver = form.key, name
    return result


_SOLVE_KEYWORDS = (
    "backend",
    "time_limit",
    "mip_gap",
    "threads",
    "seed",
    "verbose",
    "write_model",
    "solver_options",
)


def _unknown_keywords(unknown: Mapping[str, Any]) -> str:
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, _SOLVE_KEYWORDS, n=1)
        parts.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return f"solve() got unknown option {', '.join(parts)}; options: {', '.join(_SOLVE_KEYWORDS)}"


def _check_names(**names: Any) -> None:
    for key, value in names.items():
        if value is not None and not isinstance(value, str):
            raise OptionError(f"{key} must be a name (str), got {type(value).__name__} {value!r:.60}")


def _number(name: str, value: Any, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise OptionError(f"{name} must be {kind}, got {type(value).__name__} {value!r:.60}")
    if not math.isfinite(value):
        raise OptionError(f"{name} must be finite, got {value}")


def make_options(
    time_limit: Any,
    mip_gap: Any,
    threads: Any,
    seed: Any,
    verbose: Any,
    write_model: Any,
    solver_options: Any,
) -> SolveOptions:
    """Validated SolveOptions from user values: types, ranges and the model file's path."""
    if time_limit is not None:
        _number("time_limit", time_limit)
    _number("mip_gap", mip_gap)
    if threads is not None:
        _number("threads", threads, integer=True)
    _number("seed", seed, integer=True)
    if not 0 <= seed < 2**31:
        raise OptionError(f"seed must be in [0, 2^31), got {seed}")
    if not isinstance(verbose, bool):
        raise OptionError(f"verbose must be True or False, got {verbose!r:.60}")
    if solver_options is not None and (
        not isinstance(solver_options, Mapping) or not all(isinstance(k, str) for k in solver_options)
    ):
        raise OptionError("solver_options must be a mapping of option names (str) to values")
    model_path = None if write_model is None else check_model_path(write_model)
    try:
        return SolveOptions(
            None if time_limit is None else float(time_limit),
            float(mip_gap),
            threads,
            seed,
            verbose,
            model_path,
            dict(solver_options or {}),
        )
    except ValueError as exc:
        raise OptionError(str(exc)) from None


@dataclass
class CheckReport:
    """Outcome of re-evaluating a plan: independent objective, violations, agreement.

    A claimed bound is checked too: for a minimisation it may not exceed the evaluator's
    objective of a feasible plan (nor fall below it for a maximisation).
    """

    evaluation: Evaluation
    claimed: float | None
    rel_tol: float
    claimed_bound: float | None = None
    sense: str = "minimize"

    def _close(self, value: float) -> bool:
        scale = max(abs(self.evaluation.objective), 1e-12)
        return abs(value - self.evaluation.objective) <= self.rel_tol * scale

    @property
    def agrees(self) -> bool:
        return self.claimed is None or self._close(self.claimed)

    @property
    def bound_valid(self) -> bool:
        """False when the claimed bound is beaten by a feasible plan's evaluated objective."""
        if self.claimed_bound is None or not self.evaluation.feasible or self._close(self.claimed_bound):
            return True
        if self.sense == "maximize":
            return self.claimed_bound >= self.evaluation.objective
        return self.claimed_bound <= self.evaluation.objective

    @property
    def ok(self) -> bool:
        return self.evaluation.feasible and self.agrees and self.bound_valid

    def messages(self) -> list[str]:
        out = list(self.evaluation.violations)
        if not self.agrees:
            out.append(
                f"claimed objective {self.claimed!r} differs from the evaluator's "
                f"{self.evaluation.objective!r}"
            )
        if not self.bound_valid:
            side = "below" if self.sense == "maximize" else "above"
            out.append(
                f"claimed bound {self.claimed_bound!r} lies {side} the evaluated objective "
                f"{self.evaluation.objective!r} of a feasible plan, so it bounds nothing"
            )
        return out


def check(
    instance: Instance,
    result: Result | Mapping[str, Any],
    formulation: str | None = None,
    rel_tol: float = OBJECTIVE_RELATIVE,
) -> CheckReport:
    """Re-evaluate a Result's plan (or a bare plan / result dict) from the instance alone."""
    if not isinstance(instance, Instance):
        raise OptionError(f"check() takes a loaded Instance, got {type(instance).__name__}")
    plan: Any
    key: Any
    if isinstance(result, Result):
        plan, claimed, bound = result.plan, result.objective, result.bound
        key = formulation or result.formulation
    elif isinstance(result, Mapping):
        nested = "plan" in result
        plan = result["plan"] if nested else result
        claimed = result.get("objective") if nested else None
        bound = result.get("bound") if nested else None
        key = formulation or (result.get("formulation") if nested else None)
    else:
        raise OptionError(f"check() takes a Result or a result/plan dict, got {type(result).__name__}")
    if plan is None:
        raise InputError("the result holds no plan to check")
    if not isinstance(plan, Mapping):
        raise InputError(f"expected the plan as an object, got {type(plan).__name__}", path="plan")
    for name, value in (("objective", claimed), ("bound", bound)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InputError(f"expected a number or null, got {value!r:.60}", path=name)
    _check_names(formulation=key)
    form = resolve_formulation(instance, key)
    sense = getattr(form, "sense", "minimize")
    return CheckReport(form.evaluate(instance, plan), claimed, rel_tol, bound, sense)
