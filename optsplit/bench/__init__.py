"""Benchmark runner (`optsplit bench SUITE`): resumable CSV rows, Markdown table, plot.

Suites belong to their formulations (``Formulation.suites()``); this package runs them.
"""

from optsplit.bench.runner import Case, Suite, run_suite


def suites() -> dict[str, Suite]:
    """The core's suites (start-up, schedule engine) and every registered formulation's, by name."""
    from optsplit.bench.core import SUITES
    from optsplit.problem import formulations

    out: dict[str, Suite] = dict(SUITES)
    for form in formulations().values():
        owned = getattr(form, "suites", None)
        out.update(owned() if callable(owned) else {})
    return out


__all__ = ["Case", "Suite", "run_suite", "suites"]
