"""The `optsplit` command line: solve, check, list, bench, generate, arch, schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from optsplit.errors import InputError, OptsplitError
from optsplit.result import Result, Status

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Optimization models for split (collaborative) DNN inference.",
)
out = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_VIOLATION, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_PLAN = 0, 1, 2, 3, 4


def _exit_code(result: Result) -> int:
    if result.status is Status.INFEASIBLE:
        return EXIT_INFEASIBLE
    return EXIT_OK if result.has_plan else EXIT_NO_PLAN


@app.command()
def solve(
    file: Annotated[Path, typer.Argument(help="instance file (.toml, .json, .yaml)")],
    formulation: Annotated[str | None, typer.Option("-f", "--formulation")] = None,
    solver: Annotated[str | None, typer.Option("-s", "--solver", help="method name")] = None,
    backend: Annotated[str | None, typer.Option("-b", "--backend")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", help="seconds")] = None,
    mip_gap: Annotated[float, typer.Option("--mip-gap")] = 0.0,
    threads: Annotated[int | None, typer.Option("--threads")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="show the solver log")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    write_model: Annotated[Path | None, typer.Option("--write-model", help=".lp, .mps or .nl")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write the result JSON here")] = None,
) -> None:
    """Solve an instance and print the result (exit 3 if infeasible, 4 if no plan)."""
    import logging

    import optsplit

    if verbose:  # iteration logs of optsplit's own algorithms (PCCP…) go to stderr
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    inst = optsplit.load(file)
    result = optsplit.solve(
        inst,
        formulation,
        solver,
        backend=backend,
        time_limit=time_limit,
        mip_gap=mip_gap,
        threads=threads,
        seed=seed,
        verbose=verbose,
        write_model=write_model,
    )
    if output is not None:
        output.write_text(result.to_json())
    if as_json:
        typer.echo(result.to_json())
    else:
        _print_result(result)
    raise typer.Exit(_exit_code(result))


def _print_result(result: Result) -> None:
    table = Table(show_header=False, box=None)
    rows: list[tuple[str, Any]] = [
        ("formulation", result.formulation),
        ("solver", f"{result.solver} ({result.backend})"),
        (
            "status",
            f"{result.status.value}  [termination {result.termination.value}, "
            f"solution {result.solution_status.value}]",
        ),
        ("objective", result.objective),
        ("bound", result.bound),
        ("gap", None if result.gap is None else f"{result.gap:.3g}"),
        ("runtime", f"{result.runtime:.4f} s"),
    ]
    if result.explanation:
        rows.append(("why", result.explanation))
    for key, value in rows:
        table.add_row(key, "-" if value is None else str(value))
    out.print(table)
    if result.plan is not None:
        for key, value in result.plan.items():
            typer.echo(f"{key}: {_compact(value)}")


def _compact(value: Any) -> str:
    """Runs of a repeated string shown once with their 1-based positions
    ("1-4 dev, 5-11 edge"); of lists of routes only those that move (#tensor a->b);
    anything else as JSON."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        moves = [f"#{k} {'->'.join(map(str, p))}" for k, p in enumerate(value) if len(p) > 1]
        return "; ".join(moves) or "nothing moves"
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return json.dumps(value, default=str)
    runs, start = [], 0
    for i in range(1, len(value) + 1):
        if i == len(value) or value[i] != value[start]:
            span = f"{start + 1}" if i - start == 1 else f"{start + 1}-{i}"
            runs.append(f"{span} {value[start]}")
            start = i
    return ", ".join(runs)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="instance file")],
    plan: Annotated[Path, typer.Argument(help="result or plan JSON (from solve --output)")],
    formulation: Annotated[str | None, typer.Option("-f", "--formulation")] = None,
    rel_tol: Annotated[float, typer.Option("--rel-tol")] = 1e-6,
    simulate: Annotated[
        int, typer.Option("--simulate", help="robust: Monte Carlo samples per device and law (0 = none)")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="seed of the simulation")] = 0,
) -> None:
    """Re-evaluate a plan from the instance alone; exit 1 on any violation or mismatch.

    With --simulate N, latencies of a `robust` plan are also drawn N times per device from
    Gaussian, gamma, lognormal and worst-case two-point laws with the profiled mean and
    variance; exit 1 if a device misses its deadline more often than ε allows.
    """
    import optsplit

    inst = optsplit.load(file)
    try:
        doc = json.loads(plan.read_text())
    except FileNotFoundError:
        raise InputError("file not found", source=str(plan)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc}", source=str(plan)) from None
    if not isinstance(doc, dict):
        raise InputError("expected a JSON object", source=str(plan))
    report = optsplit.check(inst, doc, formulation, rel_tol)
    typer.echo(f"objective (evaluator): {report.evaluation.objective!r}")
    if report.claimed is not None:
        typer.echo(f"objective (claimed):   {report.claimed!r}")
    for key, value in report.evaluation.metrics.items():
        if isinstance(value, dict):
            typer.echo(f"  {key}:")
            for name, item in value.items():
                typer.echo(f"    {name}: {json.dumps(item, default=str)}")
        else:
            typer.echo(f"  {key}: {value}")
    for message in report.messages():
        typer.echo(f"violation: {message}", err=True)
    ok = report.ok
    if simulate > 0:
        ok = _simulate(inst, doc.get("plan", doc), simulate, seed) and ok
    typer.echo("ok" if ok else "NOT ok")
    raise typer.Exit(EXIT_OK if ok else EXIT_VIOLATION)


def _simulate(inst: Any, plan: dict[str, Any], samples: int, seed: int) -> bool:
    """Print each device's empirical violation rate per law; True if all stay within ε."""
    from optsplit.evaluate.simulate import DISTRIBUTIONS, simulate

    if inst.robust is None:
        raise InputError("--simulate applies to robust instances", source=inst.source)
    report = simulate(inst, plan, samples, seed)
    table = Table("device", "epsilon", *DISTRIBUTIONS, title=f"violation rate, {samples} samples")
    for device, laws in report.rates.items():
        table.add_row(device, f"{report.epsilon[device]:.3g}", *(f"{laws[law]:.4f}" for law in DISTRIBUTIONS))
    out.print(table)
    for message in report.broken():
        typer.echo(f"violation: {message}", err=True)
    return not report.broken()


@app.command("list")
def list_() -> None:
    """Formulations, their methods and back-ends, and whether each can run here."""
    from optsplit.availability import method_rows
    from optsplit.problem import formulations

    for key, form in formulations().items():
        typer.echo(
            f"{key}: {form.title}\n  {form.reference}\n  objective: "
            f"{form.objective_name}; default solver: {form.default_method}"
        )
    table = Table("formulation", "solver", "kind", "back-ends (first = default)", "description")
    grouped: dict[tuple[str, str], list[Any]] = {}
    for row in method_rows():
        grouped.setdefault((row.formulation, row.method), []).append(row)
    for (key, method), rows in grouped.items():
        backends = ", ".join(
            r.backend if r.available else f"{r.backend} (unavailable: {r.reason})" for r in rows
        )
        table.add_row(key, method, rows[0].kind, backends, rows[0].description)
    out.print(table)


@app.command()
def bench(
    suite: Annotated[str, typer.Argument(help="suite name (see `optsplit bench --list`)")] = "",
    out_dir: Annotated[Path, typer.Option("--out", help="results folder")] = Path("benchmarks"),
    fresh: Annotated[bool, typer.Option("--fresh", help="discard earlier rows")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="small cases only")] = False,
    list_suites: Annotated[bool, typer.Option("--list", help="list suites")] = False,
) -> None:
    """Run a benchmark suite: rows are written as they finish, and an interrupted run resumes."""
    from optsplit.bench import SUITES, run_suite

    if list_suites or not suite:
        for name, s in SUITES.items():
            typer.echo(f"{name}: {s.description}")
        raise typer.Exit(EXIT_OK)
    if suite not in SUITES:
        from optsplit.errors import UnknownNameError

        raise UnknownNameError("benchmark suite", suite, list(SUITES))
    paths = run_suite(SUITES[suite], out_dir / suite, fresh=fresh, quick=quick, console=err)
    for path in paths:
        typer.echo(f"wrote {path}")


@app.command()
def generate(
    kind: Annotated[str, typer.Argument(help="tiered, geometric, grid (routing) or robust")],
    nodes: Annotated[int, typer.Option("--nodes", "-n", help="nodes, or devices for robust")] = 20,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    profile: Annotated[str, typer.Option("--profile", help="architecture name or profile file")] = "alexnet",
    deadline_factor: Annotated[
        float, typer.Option("--deadline-factor", help="robust: deadline / all-local mean time at f_max")
    ] = 1.0,
    epsilon: Annotated[float, typer.Option("--epsilon", help="robust: violation probability")] = 0.05,
    bandwidth: Annotated[float, typer.Option("--bandwidth", help="robust: total uplink, Hz")] = 20e6,
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("instance.toml"),
) -> None:
    """Write a random instance (reproducible from the seed)."""
    import os

    from optsplit.generate import robust_instance, routing_instance
    from optsplit.instance import load_profile
    from optsplit.instance.loader import dump_document, profile_to_dict
    from optsplit.profiles.architectures import ARCHITECTURES

    if Path(profile).exists():
        loaded = load_profile(profile)  # validate now, with a clear message
        ref: str | dict[str, Any] = os.path.relpath(Path(profile).resolve(), output.resolve().parent)
    elif profile in ARCHITECTURES:
        loaded = ARCHITECTURES[profile]()
        ref = profile_to_dict(loaded)
    else:
        raise InputError(
            f"'{profile}' is neither a known architecture ({', '.join(ARCHITECTURES)}) nor a profile file",
            path="--profile",
        )
    try:
        if kind == "robust":
            doc = robust_instance(
                loaded,
                ref,
                nodes,
                seed,
                deadline_factor=deadline_factor,
                epsilon=epsilon,
                bandwidth=bandwidth,
            )
            size = f"{nodes} devices"
        else:
            doc = routing_instance(kind, nodes, seed, ref)
            size = f"{len(doc['network']['nodes'])} nodes, {len(doc['network']['links'])} links"
    except ValueError as exc:
        raise InputError(str(exc)) from None
    dump_document(doc, output)
    typer.echo(f"wrote {output} ({size})")


@app.command()
def arch(
    name: Annotated[str, typer.Argument(help="architecture: alexnet, vgg16, resnet18, …")],
    output: Annotated[Path, typer.Option("-o", "--output")],
) -> None:
    """Write the analytic profile (FLOPs, params, output bytes per block) of an architecture."""
    from optsplit.instance.loader import dump_document, profile_to_dict
    from optsplit.profiles.architectures import ARCHITECTURES

    if name not in ARCHITECTURES:
        from optsplit.errors import UnknownNameError

        raise UnknownNameError("architecture", name, list(ARCHITECTURES))
    dump_document(profile_to_dict(ARCHITECTURES[name]()), output)
    typer.echo(f"wrote {output}")


@app.command()
def profile(
    name: Annotated[str, typer.Argument(help="architecture: alexnet, vgg16, resnet18, …")],
    output: Annotated[Path, typer.Option("-o", "--output")],
    processor: Annotated[
        str, typer.Option("--processor", help="key the times are stored under")
    ] = "host-cpu",
    repeats: Annotated[int, typer.Option("--repeats")] = 100,
    warmup: Annotated[int, typer.Option("--warmup")] = 10,
    threads: Annotated[int, typer.Option("--threads")] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Measure per-block time (mean, variance) with PyTorch on this CPU; write a profile."""
    from rich.progress import Progress

    from optsplit.errors import UnknownNameError
    from optsplit.instance.loader import dump_document, profile_to_dict
    from optsplit.profiles.architectures import BY_NAME
    from optsplit.profiles.torch_profiler import measure

    if name not in BY_NAME:
        raise UnknownNameError("architecture", name, list(BY_NAME))
    with Progress(console=err) as bar:
        task = bar.add_task(f"timing {name}", total=repeats)
        measured = measure(
            BY_NAME[name],
            processor,
            repeats,
            warmup,
            threads,
            seed,
            lambda done, _total: bar.update(task, completed=done),
        )
    dump_document(profile_to_dict(measured), output)
    total = sum(layer.time[processor].mean for layer in measured.layers)
    typer.echo(f"wrote {output}: {measured.depth} blocks, {total * 1e3:.2f} ms per inference")


@app.command()
def schema() -> None:
    """Print the JSON Schema of instance files."""
    from optsplit.instance import schema as get_schema

    typer.echo(json.dumps(get_schema(), indent=2))


def main() -> None:
    """Entry point: known errors become one line on stderr and a non-zero exit."""
    try:
        code = app(standalone_mode=False)  # click returns the code of typer.Exit here
    except typer.Exit as exc:
        code = exc.exit_code
    except OptsplitError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
