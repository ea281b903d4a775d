"""The CLI never crashes and never loses a result; the library refuses wrong calls clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from conftest import INSTANCES, LINE_OPTIMUM

import optsplit
from optsplit import cli
from optsplit.cli import EXIT_INPUT, EXIT_OK, EXIT_SOLVER, EXIT_VIOLATION, main
from optsplit.errors import OptionError, OptsplitError, SolverError
from optsplit.problem import formulations

SCRIPT = Path(sys.executable).with_name("optsplit")


def run(monkeypatch, capfd, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process, capturing at the file-descriptor level (solver banners too)."""
    monkeypatch.setattr(sys, "argv", ["optsplit", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return int(exc.value.code or 0), captured.out, captured.err


def write(tmp_path: Path, doc: dict, name: str = "inst.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        ((), 0, "Usage: optsplit"),
        (("--bogus",), 2, "No such option '--bogus'"),
        (("teleport",), 2, "No such command 'teleport'"),
        (("solve", "x.toml", "--time-limit", "abc"), 2, "'abc' is not a valid finite float"),
        (("solve", "x.toml", "--time-limit", "nan"), 2, "not a finite number"),
        (("solve",), 2, "Missing argument 'FILE'"),
        (("solve", "missing.toml"), 2, "missing.toml: file not found"),
    ],
)
def test_console_script_usage_errors(args, code, expected) -> None:
    assert SCRIPT.exists(), f"the console script is not installed beside {sys.executable}"
    done = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == code
    assert "Traceback" not in done.stdout + done.stderr
    assert expected in done.stdout + done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("intradp/random-chain-4.toml", "-s", "milp"),
        ("intradp/random-chain-4.toml", "-s", "milp", "-b", "pyomo-scip"),
        ("robust/alexnet-3dev.toml", "-s", "scip"),
    ],
)
def test_verbose_json_keeps_solver_logs_off_stdout(args) -> None:
    """HiGHS and SCIP print from C on file descriptor 1; with --json stdout is the JSON alone."""
    path = Path(__file__).resolve().parents[1] / "instances" / args[0]
    done = subprocess.run(
        [str(SCRIPT), "solve", str(path), *args[1:], "-v", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert json.loads(done.stdout)["status"] == "optimal"
    assert done.stderr.strip()  # the logs went to standard error


def test_output_refuses_to_overwrite_the_instance(monkeypatch, capfd, tmp_path, line_doc) -> None:
    inst = write(tmp_path, line_doc)
    before = inst.read_text()
    code, _, err = run(monkeypatch, capfd, "solve", str(inst), "-o", str(inst))
    assert code == EXIT_INPUT and "refusing to overwrite the input file" in err
    assert inst.read_text() == before


def test_output_folder_is_checked_before_solving(monkeypatch, capfd, tmp_path, line_doc) -> None:
    inst = write(tmp_path, line_doc)
    monkeypatch.setattr(optsplit, "solve", lambda *a, **k: pytest.fail("solved before checking -o"))
    code, _, err = run(monkeypatch, capfd, "solve", str(inst), "-o", str(tmp_path / "nope" / "r.json"))
    assert code == EXIT_INPUT and "does not exist" in err


@pytest.mark.parametrize(
    ("name", "expected"), [("nope/m.lp", "does not exist"), ("m.xyz", "use .lp, .mps, .nl")]
)
def test_write_model_path_is_checked_before_solving(
    monkeypatch, capfd, tmp_path, line_doc, name, expected
) -> None:
    inst = write(tmp_path, line_doc)
    monkeypatch.setattr(optsplit, "solve", lambda *a, **k: pytest.fail("solved before checking the path"))
    code, _, err = run(
        monkeypatch, capfd, "solve", str(inst), "-s", "lp", "--write-model", str(tmp_path / name)
    )
    assert code == EXIT_INPUT and expected in err and "write_model" in err


def test_result_file_is_written_atomically(tmp_path, monkeypatch) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        cli.write_atomically(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind
    monkeypatch.undo()
    cli.write_atomically(target, "new")
    assert target.read_text() == "new"


def test_status_text_survives_rich_markup(monkeypatch, capfd, tmp_path, line_doc) -> None:
    code, out, _ = run(monkeypatch, capfd, "solve", str(write(tmp_path, line_doc)), "-s", "milp")
    assert code == EXIT_OK
    assert "termination: optimal; solution: optimal" in out
    assert str(tmp_path / "inst.toml") in out  # names the instance
    assert "end-to-end latency [s]" in out  # the objective's unit
    assert "layers 3 to 7 run on node" in out  # explains its notation


def test_large_plan_prints_as_a_table_and_json_keeps_everything(monkeypatch, capfd) -> None:
    inst = str(INSTANCES / "robust" / "alexnet-100dev.toml")
    code, out, _ = run(monkeypatch, capfd, "solve", inst, "-s", "all-local")
    assert code == EXIT_OK
    assert "65 more rows not shown (all in --json or -o)" in out
    assert len(out.splitlines()) < 60
    code, out, _ = run(monkeypatch, capfd, "solve", inst, "-s", "all-local", "--json")
    assert len(json.loads(out)["plan"]["devices"]) == 100


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--epsilon", "2"), "--epsilon"),
        (("--epsilon", "nan"), "--epsilon"),
        (("--bandwidth", "-5"), "--bandwidth"),
        (("--deadline-factor", "0"), "--deadline-factor"),
        (("-n", "0"), "--nodes"),
    ],
)
def test_generate_refuses_what_solve_would_reject(monkeypatch, capfd, tmp_path, args, expected) -> None:
    target = tmp_path / "g.toml"
    profile = str(INSTANCES / "profiles" / "measured" / "alexnet.toml")
    code, _, err = run(
        monkeypatch, capfd, "generate", "robust", "--profile", profile, "-o", str(target), *args
    )
    assert code == EXIT_INPUT and expected in err
    assert not target.exists()


def test_solver_errors_are_not_called_bad_input(monkeypatch, capfd, tmp_path, line_doc) -> None:
    def fail(*args, **kwargs):
        raise SolverError("HiGHS returned kError from run(): out of memory")

    monkeypatch.setattr(optsplit, "solve", fail)
    code, _, err = run(monkeypatch, capfd, "solve", str(write(tmp_path, line_doc)))
    assert code == EXIT_SOLVER and err.startswith("solver error: HiGHS returned kError")


def test_check_rejects_a_bound_that_bounds_nothing(monkeypatch, capfd, tmp_path, line_doc) -> None:
    inst = write(tmp_path, line_doc)
    result = tmp_path / "r.json"
    code, _, _ = run(monkeypatch, capfd, "solve", str(inst), "-o", str(result))
    doc = json.loads(result.read_text())
    assert code == EXIT_OK and doc["bound"] == pytest.approx(LINE_OPTIMUM)
    doc["bound"] = LINE_OPTIMUM * 1.01  # a "lower bound" above a feasible plan's latency
    result.write_text(json.dumps(doc))
    code, _, err = run(monkeypatch, capfd, "check", str(inst), str(result))
    assert code == EXIT_VIOLATION and "bounds nothing" in err


def test_library_refuses_wrong_calls(line_doc) -> None:
    inst = optsplit.from_dict(line_doc)
    with pytest.raises(OptionError, match="load the file first"):
        optsplit.solve("instances/routing/tiered-5-alexnet.toml")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="time_limit must be a number, got str"):
        optsplit.solve(inst, time_limit="10")
    with pytest.raises(OptionError, match="did you mean 'time_limit'"):
        optsplit.solve(inst, timelimit=5)
    with pytest.raises(OptionError, match="threads must be an integer"):
        optsplit.solve(inst, threads=1.5)
    with pytest.raises(OptionError, match="solver must be a name"):
        optsplit.solve(inst, solver=3)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="mip_gap must be in"):
        optsplit.solve(inst, mip_gap=1.5)
    assert issubclass(OptionError, OptsplitError)


SMALL = {
    "routing": INSTANCES / "routing" / "tiered-5-alexnet.toml",
    "robust": INSTANCES / "robust" / "alexnet-3dev.toml",
    "multimodal": INSTANCES / "multimodal" / "tiny-2x2.toml",
    "intradp": INSTANCES / "intradp" / "random-chain-4.toml",
    "online": INSTANCES / "online" / "small.toml",
}
EVERY_METHOD = [(path, key, name) for key, path in SMALL.items() for name in formulations()[key].methods()]


def test_every_formulation_has_a_small_instance_here() -> None:
    assert set(SMALL) == set(formulations())


@pytest.mark.parametrize(
    ("path", "key", "method"), EVERY_METHOD, ids=[f"{k}-{m}" for _, k, m in EVERY_METHOD]
)
def test_json_alone_on_stdout_for_every_method(monkeypatch, capfd, path, key, method) -> None:
    code, out, _ = run(monkeypatch, capfd, "solve", str(path), "-s", method, "--json")
    data = json.loads(out)  # nothing but JSON, not even a solver banner
    assert data["formulation"] == key and data["solver"] == method
    assert code in (0, 3, 4)


@pytest.mark.parametrize("key", ["robust", "routing"])
def test_json_alone_in_a_fresh_process(key) -> None:
    """HiGHS prints a banner on its first construction in a process (pccp reaches it through
    CVXPY): a fresh process is where that would show."""
    done = subprocess.run(
        [str(SCRIPT), "solve", str(SMALL[key]), "--json"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["formulation"] == key


def test_a_broken_profile_file_is_named_with_the_instance_field(
    monkeypatch, capfd, tmp_path, line_doc
) -> None:
    (tmp_path / "prof.toml").write_text(
        "name = 'p'\ninput_bytes = 1.0\nlayers = [{name = 'a', flops = -1}]\n"
    )
    line_doc["job"]["profile"] = "prof.toml"
    code, _, err = run(monkeypatch, capfd, "solve", str(write(tmp_path, line_doc)))
    assert code == EXIT_INPUT
    assert "inst.toml: job.profile: profile 'prof.toml':" in err and "prof.toml: layers[0]" in err


def test_gantt_of_a_schedule(monkeypatch, capfd, tmp_path) -> None:
    inst, result, chart = SMALL["multimodal"], tmp_path / "r.json", tmp_path / "g.png"
    assert run(monkeypatch, capfd, "solve", str(inst), "-o", str(result))[0] == EXIT_OK
    code, out, _ = run(monkeypatch, capfd, "check", str(inst), str(result), "--gantt", str(chart))
    assert code == EXIT_OK and f"wrote {chart}" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000


@pytest.mark.slow
def test_ctrl_c_during_scip_returns_the_best_plan_as_interrupted(tmp_path) -> None:
    """SIGINT once SCIP is under way (10 devices: SCIP needs minutes to prove optimality)."""
    import signal
    import time

    out = tmp_path / "r.json"
    inst = INSTANCES / "robust" / "alexnet-10dev.toml"
    proc = subprocess.Popen([str(SCRIPT), "solve", str(inst), "-s", "scip", "-o", str(out)])
    time.sleep(8)  # a trigger, not a limit: the outcome below does not depend on the machine's speed
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=300) == 0
    doc = json.loads(out.read_text())
    assert doc["termination"] == "interrupted" and doc["plan"] is not None
    assert doc["bound"] is not None and doc["bound"] <= doc["objective"]
    assert optsplit.check(optsplit.load(inst), doc).ok
