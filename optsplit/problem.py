"""Problem side of optsplit: the Formulation protocol, the registry, solve() and check()."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from optsplit.errors import InputError, UnknownNameError
from optsplit.instance.model import Instance
from optsplit.result import Result
from optsplit.solvers.options import SolveOptions


@dataclass(frozen=True)
class Method:
    """One way to solve a formulation: an exact model, a paper's algorithm or a baseline.

    ``backends`` lists the solver back-ends it can run on, the default first; an empty
    tuple means it needs no external solver.
    """

    name: str
    description: str
    kind: str  # "exact", "reference", "heuristic" or "baseline"
    run: Callable[[Any, str | None, SolveOptions], Result]
    backends: tuple[str, ...] = ()
    writes_model: bool = False  # whether `write_model` can export what it solves


@dataclass
class Evaluation:
    """Independent figures of a plan: objective, other metrics and constraint violations."""

    objective: float
    metrics: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations


class Formulation(Protocol):
    """A paper's problem: what it needs from an instance, how it is solved, how a plan scores."""

    key: str
    title: str
    reference: str
    objective_name: str
    default_method: str

    def methods(self) -> Mapping[str, Method]: ...

    def prepare(self, instance: Instance) -> Any:
        """Check the instance has what this formulation needs; return its numeric data."""
        ...

    def evaluate(self, instance: Instance, plan: Mapping[str, Any]) -> Evaluation:
        """Score a plan from the instance alone (never from the model that produced it)."""
        ...


def formulations() -> dict[str, Formulation]:
    """All registered formulations by key (imported lazily to keep start-up light)."""
    from optsplit.formulations import REGISTRY

    return dict(REGISTRY)


def get_formulation(key: str) -> Formulation:
    known = formulations()
    if key not in known:
        raise UnknownNameError("formulation", key, list(known))
    return known[key]


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
    backend: str | None = None,
    time_limit: float | None = None,
    mip_gap: float = 0.0,
    threads: int | None = None,
    seed: int = 0,
    verbose: bool = False,
    write_model: str | Path | None = None,
    **extra: Any,
) -> Result:
    """Solve ``instance`` with a formulation's method; always returns a Result.

    ``solver`` names a method of the formulation (its default when None); ``backend``
    picks the solver back-end where the method offers several.
    """
    form = resolve_formulation(instance, formulation)
    methods = form.methods()
    name = solver or form.default_method
    if name not in methods:
        raise UnknownNameError(f"solver for '{form.key}'", name, list(methods))
    method = methods[name]
    if backend is not None and backend not in method.backends:
        raise UnknownNameError(f"back-end for '{form.key}/{name}'", backend, list(method.backends))
    try:
        options = SolveOptions(
            time_limit,
            mip_gap,
            threads,
            seed,
            verbose,
            Path(write_model) if write_model else None,
            dict(extra),
        )
    except ValueError as exc:
        raise InputError(str(exc), path="options") from None
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


@dataclass
class CheckReport:
    """Outcome of re-evaluating a plan: independent objective, violations, agreement."""

    evaluation: Evaluation
    claimed: float | None
    rel_tol: float

    @property
    def agrees(self) -> bool:
        if self.claimed is None:
            return True
        scale = max(abs(self.evaluation.objective), 1e-12)
        return abs(self.claimed - self.evaluation.objective) <= self.rel_tol * scale

    @property
    def ok(self) -> bool:
        return self.evaluation.feasible and self.agrees

    def messages(self) -> list[str]:
        out = list(self.evaluation.violations)
        if not self.agrees:
            out.append(
                f"claimed objective {self.claimed!r} differs from the evaluator's "
                f"{self.evaluation.objective!r}"
            )
        return out


def check(
    instance: Instance,
    result: Result | Mapping[str, Any],
    formulation: str | None = None,
    rel_tol: float = 1e-6,
) -> CheckReport:
    """Re-evaluate a Result's plan (or a bare plan / result dict) from the instance alone."""
    plan: Mapping[str, Any] | None
    key: str | None
    if isinstance(result, Result):
        plan, claimed, key = result.plan, result.objective, formulation or result.formulation
    else:
        nested = "plan" in result
        plan = result["plan"] if nested else result
        claimed = result.get("objective") if nested else None
        key = formulation or (result.get("formulation") if nested else None)
    if plan is None:
        raise InputError("the result holds no plan to check")
    form = resolve_formulation(instance, key)
    return CheckReport(form.evaluate(instance, plan), claimed, rel_tol)
