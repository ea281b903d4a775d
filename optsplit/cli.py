"""The `optsplit` command line (click): solve, check, list, bench, generate, arch, profile, schema.

Every failure the user can cause ends in one line on stderr and a documented exit code,
never a traceback; results go to stdout (JSON alone with --json), logs to stderr.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from optsplit.errors import InputError, OptsplitError, SolverError
from optsplit.result import Result, SolutionStatus, Status
from optsplit.spec import Generator, Param

if TYPE_CHECKING:
    from optsplit.instance.limits import ReadLimits

EXIT_OK, EXIT_VIOLATION, EXIT_INPUT, EXIT_INFEASIBLE, EXIT_NO_PLAN, EXIT_SOLVER = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130


class FiniteFloat(click.FloatRange):
    """A float in a range that also refuses NaN and infinity (click's FloatRange lets NaN by)."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


POSITIVE = FiniteFloat(min=0, min_open=True)
limit_option = click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="NAME=N",
    help="raise a reading limit: max_bytes, max_depth, max_alias_nodes, max_int_digits",
)
PROBABILITY = FiniteFloat(min=0, max=1, min_open=True, max_open=True)


def _stdout() -> Console:
    return Console(soft_wrap=False)


def _stderr() -> Console:
    return Console(stderr=True)


def _exit_code(result: Result) -> int:
    if result.status is Status.INFEASIBLE:
        return EXIT_INFEASIBLE
    if result.has_plan and result.solution_status is not SolutionStatus.INFEASIBLE:
        return EXIT_OK
    if result.has_plan:  # a heuristic's plan that breaks a constraint: no feasible plan
        return EXIT_NO_PLAN
    return EXIT_SOLVER if result.status is Status.ERROR else EXIT_NO_PLAN


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a result file is an ordinary one
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_output(output: Path, *protected: Path) -> None:
    """Refuse, before any work, an output that would overwrite an input or lands nowhere."""
    for other in protected:
        if output.resolve() == other.resolve():
            raise InputError(f"refusing to overwrite the input file '{other}'", source=str(output))
    if not output.parent.is_dir():
        raise InputError(f"folder '{output.parent}' does not exist", source=str(output))


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, no_args_is_help=True)
@click.version_option(package_name="optsplit")
def cli() -> None:
    """Optimization models for split (collaborative) DNN inference.

    Exit codes: 0 ok, 1 check found a violation, 2 bad input or usage, 3 infeasible,
    4 no feasible plan (a limit hit first, or a heuristic's plan breaks a constraint),
    5 solver error, 130 interrupted.
    """


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-f", "--formulation", help="formulation key (default: the instance's)")
@click.option("-s", "--solver", help="method name (see `optsplit list`)")
@click.option("-b", "--backend", help="solver back-end where the method offers several")
@click.option("--time-limit", type=POSITIVE, help="seconds; the best plan so far is returned")
@click.option("--mip-gap", type=FiniteFloat(min=0, max=1, max_open=True), default=0.0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1))
@click.option("--seed", type=click.IntRange(min=0, max=2**31 - 1), default=0, show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="solver and algorithm logs on stderr")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON, nothing else")
@click.option("--write-model", type=click.Path(path_type=Path), help="export the model: .lp, .mps or .nl")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="write the result JSON here")
@click.option(
    "-O",
    "--solver-option",
    "solver_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="passed to the method or its solver (VALUE read as JSON when it parses): "
    "mip_max_nodes=100, bandwidth_table=[1,2,5,10,30] …",
)
@click.option(
    "--bandwidth-table",
    metavar="MB/S",
    help="plan once per bandwidth and use the plan for the instance's bandwidth: a list '1,2,5,10' "
    "or a range '1-30' of integers (same as -O bandwidth_table=[…]; methods with a plan table only)",
)
@limit_option
def solve(
    file: Path,
    formulation: str | None,
    solver: str | None,
    backend: str | None,
    time_limit: float | None,
    mip_gap: float,
    threads: int | None,
    seed: int,
    verbose: bool,
    as_json: bool,
    write_model: Path | None,
    output: Path | None,
    solver_options: tuple[str, ...],
    bandwidth_table: str | None,
    limits: tuple[str, ...],
) -> None:
    """Solve an instance and print the result (exit 3 if infeasible, 4 if no feasible plan)."""
    import optsplit
    from optsplit.display import print_result
    from optsplit.problem import resolve_formulation
    from optsplit.solvers.export import check_model_path

    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    if output is not None:
        _check_output(output, file)
    if write_model is not None:
        check_model_path(write_model)
        _check_output(write_model, file)
    extra = _key_values(solver_options)
    if bandwidth_table is not None:
        if "bandwidth_table" in extra:
            raise InputError(
                "give the table once: --bandwidth-table or -O bandwidth_table", path="--bandwidth-table"
            )
        extra["bandwidth_table"] = parse_bandwidths(bandwidth_table)
    inst = optsplit.load(file, read_limits(limits))
    with _stdout_to_stderr() if as_json or verbose else nullcontext():  # C solvers print on fd 1
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
            solver_options=extra,
        )
    if output is not None:
        write_atomically(output, result.to_json() + "\n")
    if as_json:
        click.echo(result.to_json())
    else:
        form = resolve_formulation(inst, result.formulation)
        print_result(_stdout(), result, str(file), form.objective_name, getattr(form, "plan_legend", ""))
    sys.exit(_exit_code(result))


MAX_TABLE_BANDWIDTHS = 1000  # one plan each: a longer table is a typing slip, not a plan


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to file descriptor 1 (solver logs and banners, Python's or a C
    library's) to standard error, so that ``--json`` leaves standard output to the JSON."""
    import ctypes

    try:
        libc_flush = ctypes.CDLL(None).fflush
    except (OSError, AttributeError, TypeError):  # no C library to load by that name (Windows)
        libc_flush = None
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        if libc_flush is not None:
            libc_flush(None)  # C stdio buffers still holding solver output go to standard error
        os.dup2(saved, 1)
        os.close(saved)


def parse_bandwidths(text: str) -> list[float]:
    """'1-30' (every integer from 1 to 30) or '1,2.5,10' as a list of bandwidths > 0 (MB/s)."""
    where = f"--bandwidth-table {text}"
    span = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    try:
        if span:
            first, last = int(span[1]), int(span[2])
            values = (
                [float(b) for b in range(first, last + 1)] if 0 <= last - first < MAX_TABLE_BANDWIDTHS else []
            )
        else:
            values = [float(part) for part in text.split(",")]
    except ValueError:
        raise InputError("expected a range A-B of integers or a list of numbers", path=where) from None
    if not values or len(values) > MAX_TABLE_BANDWIDTHS:
        raise InputError(
            f"expected 1 to {MAX_TABLE_BANDWIDTHS} bandwidths (a range A-B needs A <= B)", path=where
        )
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError("bandwidths must be numbers > 0 (MB/s)", path=where)
    return values


def _key_values(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`KEY=VALUE` options as a dict; a VALUE that parses as JSON is taken as JSON."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError("expected KEY=VALUE", path=f"--solver-option {pair}")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def read_limits(pairs: tuple[str, ...]) -> ReadLimits:
    """ReadLimits from `--limit NAME=N` options (the defaults for names not given)."""
    from dataclasses import fields

    from optsplit.instance.limits import ReadLimits

    known = {f.name for f in fields(ReadLimits)}
    values: dict[str, int] = {}
    for pair in pairs:
        name, _, number = pair.partition("=")
        if name not in known or not number.strip().isdigit():
            raise InputError(
                f"expected NAME=N with NAME one of {', '.join(sorted(known))}", path=f"--limit {pair}"
            )
        values[name] = int(number)
    try:
        return ReadLimits(**values)
    except ValueError as exc:
        raise InputError(str(exc), path="--limit") from None


def _read_result(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", source=str(path)) from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise InputError(f"malformed JSON: {str(exc)[:200]}", source=str(path)) from None
    if not isinstance(doc, dict):
        raise InputError("expected a JSON object", source=str(path))
    return doc


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("-f", "--formulation")
@click.option("--rel-tol", type=POSITIVE, default=1e-6, show_default=True)
@click.option(
    "--simulate",
    type=click.IntRange(min=0),
    default=0,
    help="robust: Monte Carlo samples per device and law (0 = none)",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, help="seed of the simulation")
@click.option("--scheduler", help="draw on a running Dask scheduler (address) instead of this process")
@click.option(
    "--gantt", type=click.Path(path_type=Path), help="draw the plan's schedule as a Gantt chart (PNG)"
)
@limit_option
def check(
    file: Path,
    plan: Path,
    formulation: str | None,
    rel_tol: float,
    simulate: int,
    seed: int,
    scheduler: str | None,
    gantt: Path | None,
    limits: tuple[str, ...],
) -> None:
    """Re-evaluate a plan from the instance alone; exit 1 on any violation or mismatch.

    With --simulate N, latencies of a `robust` plan are also drawn N times per device from
    Gaussian, gamma, lognormal and worst-case two-point laws with the profiled mean and
    variance, and layer by layer with the layers' correlation (Gaussian copula); exit 1 if a
    device misses its deadline more often than ε allows.
    """
    import optsplit

    if gantt is not None:
        _check_output(gantt, file, plan)
    inst = optsplit.load(file, read_limits(limits))
    doc = _read_result(plan)
    try:
        report = optsplit.check(inst, doc, formulation, rel_tol)
    except InputError as exc:
        if exc.source is not None:
            raise
        raise InputError(exc.detail, source=str(plan), path=exc.path) from None  # name the plan file
    if gantt is not None:
        _draw_gantt(inst, doc, formulation, gantt)
    try:
        click.echo(f"objective (evaluator): {report.evaluation.objective!r}")
        if report.claimed is not None:
            click.echo(f"objective (claimed):   {report.claimed!r}")
        if report.claimed_bound is not None:
            click.echo(f"bound (claimed):       {report.claimed_bound!r}")
        for key, value in report.evaluation.metrics.items():
            if isinstance(value, dict):
                click.echo(f"  {key}:")
                for name, item in value.items():
                    click.echo(f"    {name}: {json.dumps(item, default=str)}")
            else:
                click.echo(f"  {key}: {value}")
    except (TypeError, ValueError) as exc:
        raise InputError(f"the plan cannot be scored: {exc}", source=str(plan)) from None
    for message in report.messages():
        click.echo(f"violation: {message}", err=True)
    ok = report.ok
    if simulate > 0:
        ok = _simulate(inst, doc.get("plan", doc), simulate, seed, scheduler) and ok
    click.echo("ok" if ok else "NOT ok")
    sys.exit(EXIT_OK if ok else EXIT_VIOLATION)


def _draw_gantt(inst: Any, doc: dict[str, Any], formulation: str | None, path: Path) -> None:
    """Draw the schedule a formulation reads off the plan (formulations with a timeline only)."""
    from optsplit.problem import resolve_formulation
    from optsplit.timeline import draw_gantt

    form = resolve_formulation(inst, formulation or doc.get("formulation"))
    timeline = getattr(form, "timeline", None)
    if timeline is None:
        raise InputError(f"formulation '{form.key}' has no schedule to draw", path="--gantt")
    schedule, starts = timeline(inst, doc.get("plan", doc))
    draw_gantt(schedule, starts, path, title=f"{inst.name}: {form.key}")
    click.echo(f"wrote {path}")


def _simulate(inst: Any, plan: dict[str, Any], samples: int, seed: int, scheduler: str | None) -> bool:
    """Print each device's empirical violation rate per law; True if all stay within ε."""
    from optsplit.formulations.robust.simulate import PER_LAYER, SUMMED, simulate

    if inst.section("robust") is None:
        raise InputError("--simulate applies to robust instances", source=inst.source)
    if scheduler is None:
        report = simulate(inst, plan, samples, seed)
    else:
        from optsplit.bench.cluster import connect

        with connect(scheduler) as client:
            report = simulate(inst, plan, samples, seed, client=client)
    for names, what in ((SUMMED, "summed law per part"), (PER_LAYER, "per layer, correlated")):
        heads = [name.removeprefix("layers-") for name in names]
        table = Table("device", "epsilon", *heads, title=f"violation rate, {what}, {samples} samples")
        for device, laws in report.rates.items():
            table.add_row(
                escape(device), f"{report.epsilon[device]:.3g}", *(f"{laws[law]:.4f}" for law in names)
            )
        _stdout().print(table)
    for message in report.broken():
        click.echo(f"violation: {message}", err=True)
    return not report.broken()


@cli.command("list")
@click.option("--check", "deep", is_flag=True, help="import every solver to prove it runs here (slower)")
def list_(deep: bool) -> None:
    """Formulations and their methods; every solver back-end, its version, or why it cannot run."""
    from optsplit.availability import backend_rows, method_rows
    from optsplit.problem import formulations

    for key, form in formulations().items():
        click.echo(
            f"{key}: {form.title}\n  {form.reference}\n  objective: "
            f"{form.objective_name} ({form.sense}); default solver: {form.default_method}"
        )
    methods = Table("formulation", "solver", "kind", "back-ends (first = default)", "description")
    for row in method_rows():
        backends = ", ".join(row.backends) or "-"
        methods.add_row(
            *(escape(v) for v in (row.formulation, row.method, row.kind, backends, row.description))
        )
    console = _stdout()
    console.print(methods)
    backends_table = Table("back-end", "models", "version", "status")
    for b in backend_rows(deep):
        status = "available" if b.available else f"unavailable: {b.reason}"
        backends_table.add_row(*(escape(v) for v in (b.name, b.kinds, b.version or "-", status)))
    console.print(backends_table)


@cli.command()
@click.argument("suite", required=False, default="")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("benchmarks"), show_default=True
)
@click.option("--fresh", is_flag=True, help="discard earlier rows")
@click.option("--quick", is_flag=True, help="small cases only")
@click.option("--list", "list_suites", is_flag=True, help="list suites")
@click.option("--scheduler", help="address of a running Dask scheduler (default: a local cluster)")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="local worker processes (1 keeps timings undisturbed)",
)
def bench(
    suite: str,
    out_dir: Path,
    fresh: bool,
    quick: bool,
    list_suites: bool,
    scheduler: str | None,
    workers: int,
) -> None:
    """Run a benchmark suite: rows are written as they finish, and an interrupted run resumes."""
    from optsplit.bench import run_suite, suites
    from optsplit.errors import UnknownNameError

    SUITES = suites()
    if list_suites or not suite:
        for name, s in SUITES.items():
            click.echo(f"{name}: {s.description}")
        return
    if suite not in SUITES:
        raise UnknownNameError("benchmark suite", suite, list(SUITES))
    try:
        paths = run_suite(
            SUITES[suite],
            out_dir / suite,
            fresh=fresh,
            quick=quick,
            console=_stderr(),
            scheduler=scheduler,
            workers=workers,
        )
    except KeyboardInterrupt:
        click.echo("interrupted: finished rows are saved; run the same command again to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    for path in paths:
        click.echo(f"wrote {path}")


class GeneratorGroup(click.Group):
    """`optsplit generate KIND`: one sub-command per generator of the registered formulations."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from optsplit.problem import generators

        return sorted(generators())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from optsplit.problem import generators

        found = generators().get(cmd_name)
        return None if found is None else _generator_command(found)


def _param_type(param: Param) -> click.ParamType:
    if param.kind is int:
        return click.IntRange(
            None if param.minimum is None else int(param.minimum),
            None if param.maximum is None else int(param.maximum),
            min_open=param.open_minimum,
            max_open=param.open_maximum,
        )
    if param.kind is float:
        return FiniteFloat(
            param.minimum, param.maximum, min_open=param.open_minimum, max_open=param.open_maximum
        )
    return click.STRING


def _generator_command(gen: Generator) -> click.Command:
    options: list[click.Parameter] = [
        click.Option(
            [f"--{p.name.replace('_', '-')}", *p.aliases],
            type=_param_type(p),
            default=p.default,
            show_default=True,
            help=p.help,
        )
        for p in gen.params
    ]
    options.append(
        click.Option(["-o", "--output"], type=click.Path(path_type=Path), default=Path("instance.toml"))
    )

    def run(output: Path, **values: Any) -> None:
        from optsplit.instance import from_dict
        from optsplit.instance.loader import dump_document

        _check_output(output)
        doc = gen.make(output, **values)
        from_dict(doc, str(output), output.resolve().parent)  # refuse what `solve` would refuse
        dump_document(doc, output)
        summary = gen.summary(doc)
        click.echo(f"wrote {output}" + (f" ({summary})" if summary else ""))

    return click.Command(gen.name, params=options, callback=run, help=gen.description)


@cli.group(cls=GeneratorGroup)
def generate() -> None:
    """Write a random instance, reproducible from its seed (`optsplit generate KIND --help`).

    The instance is validated as `solve` would load it before it is written.
    """


@cli.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
def arch(name: str, output: Path) -> None:
    """Write the analytic profile (FLOPs, params, output bytes per block) of an architecture."""
    from optsplit.errors import UnknownNameError
    from optsplit.instance.loader import dump_document, profile_to_dict
    from optsplit.profiles.architectures import ARCHITECTURES

    if name not in ARCHITECTURES:
        raise UnknownNameError("architecture", name, list(ARCHITECTURES))
    _check_output(output)
    dump_document(profile_to_dict(ARCHITECTURES[name]()), output)
    click.echo(f"wrote {output}")


@cli.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--processor", default="host-cpu", show_default=True, help="key the times are stored under")
@click.option("--repeats", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0)
def profile(
    name: str, output: Path, processor: str, repeats: int, warmup: int, threads: int, seed: int
) -> None:
    """Measure per-block time (mean, variance, covariance across runs) with PyTorch on this CPU."""
    from rich.progress import Progress

    from optsplit.errors import UnknownNameError
    from optsplit.instance.loader import dump_document, profile_to_dict
    from optsplit.profiles.architectures import BY_NAME
    from optsplit.profiles.torch_profiler import measure

    if name not in BY_NAME:
        raise UnknownNameError("architecture", name, list(BY_NAME))
    _check_output(output)
    with Progress(console=_stderr()) as bar:
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
    ratio = measured.machine[processor]["chain_variance_ratio"]
    click.echo(
        f"wrote {output}: {measured.depth} blocks, {total * 1e3:.2f} ms per inference; "
        f"variance of the chain = {ratio:.2f} x the sum of block variances"
    )


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--policy", default="enachi", show_default=True, help="method of the formulation to run")
@click.option("--frames", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--seed", type=click.IntRange(min=0, max=2**31 - 1), default=0, show_default=True)
@click.option(
    "-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True, help="results folder"
)
def simulate(file: Path, policy: str, frames: int, seed: int, out_dir: Path) -> None:
    """Run an online policy over a horizon; write accuracy, energy, queues, misses (CSV, JSON, plots)."""
    from rich.progress import Progress

    import optsplit
    from optsplit.problem import resolve_formulation

    inst = optsplit.load(file)
    form = resolve_formulation(inst, None)
    run = getattr(form, "simulate", None)
    if run is None:
        raise InputError(f"formulation '{form.key}' has no simulator", source=str(file))
    with Progress(console=_stderr()) as bar:
        task = bar.add_task(f"{policy}, {frames} frames", total=frames)
        paths = run(
            inst, policy, frames, seed, out_dir, lambda done, _total: bar.update(task, completed=done)
        )
    for path in paths:
        click.echo(f"wrote {path}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of instance files."""
    from optsplit.instance import schema as get_schema

    click.echo(json.dumps(get_schema(), indent=2))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: known errors become one line on stderr and a documented exit code."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None, prog_name="optsplit", standalone_mode=False
        )
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        code = EXIT_OK
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except InputError as exc:
        click.echo(f"error: {_one_line(exc)}", err=True)
        code = EXIT_INPUT
    except SolverError as exc:
        click.echo(f"solver error: {_one_line(exc)}", err=True)
        code = EXIT_SOLVER
    except OptsplitError as exc:
        click.echo(f"error: {_one_line(exc)}", err=True)
        code = EXIT_INPUT
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":
    main()
