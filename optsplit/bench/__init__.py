"""Benchmark runner (`optsplit bench SUITE`): resumable CSV rows, Markdown table, plot.

Suites belong to their formulations (``Formulation.suites()``); this package runs them.
"""

from optsplit.bench.runner import Case, Suite, run_suite


def suites() -> dict[str, Suite]:
    """Every registered formulation's benchmark suites, by name."""
    from optsplit.problem import formulations

    out: dict[str, Suite] = {}
    for form in formulations().values():
        owned = getattr(form, "suites", None)
        out.update(owned() if callable(owned) else {})
    return out


__all__ = ["Case", "Suite", "run_suite", "suites"]
