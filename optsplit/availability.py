"""What can run here: every registered back-end (version, or why it cannot run) and each
formulation's methods with the back-ends they accept."""

from __future__ import annotations

from dataclasses import dataclass

from optsplit.problem import formulations
from optsplit.solvers.registry import BACKENDS, backend_status, backend_traits


@dataclass(frozen=True)
class BackendRow:
    name: str
    kinds: str
    available: bool
    version: str
    reason: str


@dataclass(frozen=True)
class MethodRow:
    formulation: str
    method: str
    kind: str
    backends: tuple[str, ...]
    description: str


def backend_rows(deep: bool = False) -> list[BackendRow]:
    """One row per registered back-end; ``deep`` imports each solver to prove it runs here
    (otherwise built-ins are judged by their installed packages, without importing them)."""
    rows = []
    for name in BACKENDS.names():
        ok, why, version = backend_status(name, deep)
        try:
            kinds = ", ".join(sorted(k.value for k in backend_traits(name)[0]))
        except Exception:  # reported through `why`
            kinds = "?"
        rows.append(BackendRow(name, kinds, ok, version, why))
    return rows


def method_rows() -> list[MethodRow]:
    return [
        MethodRow(key, name, method.kind, tuple(method.backends), method.description)
        for key, form in formulations().items()
        for name, method in form.methods().items()
    ]
