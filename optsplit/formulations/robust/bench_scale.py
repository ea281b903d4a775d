"""Benchmark suite `robust-scale`: time, peak memory, objective, bound and gap of every method
as the number of devices grows from 3 to 10 000 (AlexNet, one 20 MHz uplink).

Each case runs in its own process (the runner's isolation), so the process's peak resident
memory (``ru_maxrss``) is the case's; the memory held before the solve (imports, instance) is
recorded too. A case's address space is capped (`MEMORY_CAP`) so that a method whose model
outgrows the machine fails with a row saying so instead of taking the machine down.
"""

from __future__ import annotations

import math
import resource
from pathlib import Path
from typing import Any

from optsplit.bench.environment import header as environment
from optsplit.bench.runner import Case, Suite, failure_reason, markdown_table, rows_by_case
from optsplit.bench.runner import as_float as _num
from optsplit.formulations.robust.bench import PROFILE_DIR

SIZES = (3, 10, 30, 100, 300, 1000, 3000, 10_000)
FACTOR = 2.0  # deadline / all-local mean time at f_max: feasible at every N on 20 MHz
EPSILON = 0.05
PROFILE = "alexnet"
MEMORY_CAP = 6 * 2**30  # bytes of address space per case
TIME_LIMIT = 120.0
# the largest N each method is run at, and why not beyond
REACH: dict[str, tuple[int, str]] = {
    "enumerate": (3, "enumeration grows as points^N (limit 200 000 vectors)"),
    "scip": (10, "the global MINLP hits its 120 s limit from about 10 devices"),
    "pccp": (1000, "CVXPY compile time and memory grow with N (see the rows)"),
    "pccp-polish": (300, "the 1-opt polish prices N x points candidates per round"),
    "lagrangian": (10_000, ""),
    "all-local": (10_000, ""),
    "all-offload": (10_000, ""),
}
COLUMNS = (
    "devices",
    "status",
    "objective",
    "bound",
    "gap",
    "check_ok",
    "runtime",
    "peak_rss_mb",
    "rss_before_mb",
    "solver",
)


def _cases(quick: bool) -> list[Case]:
    sizes = (3, 30) if quick else SIZES
    cases = []
    for n in sizes:
        for method, (reach, _why) in REACH.items():
            if n <= reach:
                limit = TIME_LIMIT if method in ("scip", "pccp", "pccp-polish") else None
                spec = {"devices": n, "seed": 1}
                cases.append(Case("scale", f"{PROFILE}-{n}dev", method, spec, "robust", time_limit=limit))
    return cases


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def execute(case: Case) -> dict[str, Any]:
    import optsplit
    from optsplit.formulations.robust.generate import robust_instance
    from optsplit.instance import load_profile

    path = PROFILE_DIR / f"{PROFILE}.toml"
    doc = robust_instance(
        load_profile(path),
        str(path.resolve()),
        case.spec["devices"],
        case.spec["seed"],
        deadline_factor=FACTOR,
        epsilon=EPSILON,
    )
    inst = optsplit.from_dict(doc, source=f"generated:{case.instance}")
    row: dict[str, Any] = {"devices": case.spec["devices"], "rss_before_mb": _rss_mb()}
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP if hard < 0 else min(MEMORY_CAP, hard), hard))
    try:
        res = optsplit.solve(
            inst, "robust", case.method, time_limit=case.time_limit, threads=case.threads, seed=case.seed
        )
    except MemoryError:
        row.update(status="error", error=f"out of memory (address space capped at {MEMORY_CAP >> 30} GiB)")
        return row
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    row.update(
        status=res.status.value,
        objective=res.objective,
        bound=res.bound,
        gap=res.gap,
        runtime=res.runtime,
        peak_rss_mb=_rss_mb(),
        solver=res.backend,
    )
    if res.status.value == "error":
        row["error"] = failure_reason(res)
    if res.plan is not None:
        row["check_ok"] = optsplit.check(inst, res).ok
    return row


def _best_bounds(rows: list[dict[str, str]]) -> dict[str, float]:
    """Per instance the highest proven bound any method reported."""
    best: dict[str, float] = {}
    for row in rows:
        bound = _num(row.get("bound"))
        if math.isfinite(bound):
            best[row["instance"]] = max(best.get(row["instance"], -math.inf), bound)
    return best


def _cell(row: dict[str, str] | None, best: float) -> str:
    if row is None:
        return "-"
    if row.get("status") in ("error", "killed") or not row.get("objective"):
        return row.get("error") or row.get("status") or "-"
    energy = _num(row["objective"])
    gap = (energy - best) / energy if math.isfinite(best) else math.nan
    text = f"{energy:.6g} J, {_num(row['runtime']):.3g} s, {_num(row.get('peak_rss_mb')):.0f} MB"
    if gap != gap:
        return text
    return text + (", at the bound" if abs(gap) < 1e-9 else f", {100 * gap:.3g} % over the best bound")


def _plot(rows: list[dict[str, str]], out_dir: Path) -> Path:
    """Solve time and peak memory vs N per method (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for method in REACH:
        mine = sorted(
            (_num(r["devices"]), _num(r.get("runtime")), _num(r.get("peak_rss_mb")))
            for r in rows
            if r.get("method") == method and r.get("objective")
        )
        if mine:
            n, t, mb = zip(*mine)
            axes[0].plot(n, t, marker="o", label=method)
            axes[1].plot(n, mb, marker="o", label=method)
    for ax, label in zip(axes, ("solve time [s]", "peak resident memory [MB]")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("devices N")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / "scale.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def report(rows: list[dict[str, str]], out_dir: Path) -> list[Path]:
    table = rows_by_case(rows)
    best = _best_bounds(rows)
    methods = list(REACH)
    body = [
        [name, *(_cell(by_method.get(m), best.get(name, math.nan)) for m in methods)]
        for (_group, name), by_method in sorted(
            table.items(), key=lambda kv: _num(kv[0][1].split("-")[1][:-3])
        )
    ]
    lines = [
        "# Benchmark `robust-scale`: time, memory and gap vs the number of devices",
        "",
        "Generated by `optsplit bench robust-scale --out benchmarks/robust`; rows in `results.csv`. "
        f"Instances from `robust_instance` (seed 1) on the measured {PROFILE} profile: N devices, "
        f"one 20 MHz uplink, deadline factor {FACTOR}, ε {EPSILON}. Each cell: energy, solve time, the "
        "process's peak resident memory (imports and instance included; `rss_before_mb` in the CSV is "
        "the part held before the solve), and the gap to the best proven bound any method reported "
        "for that instance (the lagrangian dual bound, or SCIP's / enumeration's optimum). "
        f"Address space capped at {MEMORY_CAP >> 30} GiB per case; SCIP and pccp limited to "
        f"{TIME_LIMIT:g} s.",
        "",
        "Methods are not run past their reach: "
        + "; ".join(f"{m} beyond N = {r} ({why})" for m, (r, why) in REACH.items() if why)
        + ".",
        "",
        *environment(rows),
        "",
        markdown_table(["instance", *methods], body),
        "",
        "![time and memory vs N](scale.png)",
        "",
    ]
    md = out_dir / "README.md"
    md.write_text("\n".join(lines))
    return [md, _plot(rows, out_dir)]


SUITE = Suite(
    "robust-scale",
    "time, peak memory and gap of every robust method from 3 to 10 000 devices",
    COLUMNS,
    _cases,
    report,
    execute,
)
