"""A formulation defined here, outside the package, works with every CLI command once
registered: solve, check, list, schema, generate and bench. Nothing under optsplit/ knows it.

The toy problem is real enough to be checked: a chain of layers split once between a device
and a server (layers 1..m local, the rest remote, the tensor after layer m sent over the
link); the exact method scans every split point, the baseline keeps everything local.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import optsplit
from optsplit.bench import Case, Suite
from optsplit.cli import EXIT_OK, EXIT_VIOLATION, main
from optsplit.errors import InputError
from optsplit.problem import Method
from optsplit.result import Evaluation, Result, SolutionStatus, Termination
from optsplit.spec import Generator, LoadContext, Param, Section

KEY = "toysplit"


@dataclass(frozen=True)
class Chain:
    device_speed: float
    server_speed: float
    rate: float  # bit/s
    input_bytes: float
    flops: np.ndarray
    output_bytes: np.ndarray

    def latency(self, m: int) -> float:
        sent = 0.0 if m == len(self.flops) else (self.input_bytes if m == 0 else self.output_bytes[m - 1])
        return float(
            self.flops[:m].sum() / self.device_speed
            + 8 * sent / self.rate
            + self.flops[m:].sum() / self.server_speed
        )


def _build(raw: Any, ctx: LoadContext, built: Mapping[str, Any]) -> Chain:
    if raw["server_speed"] < raw["device_speed"]:
        raise InputError(
            "the server must not be slower than the device", source=ctx.source, path=f"{KEY}.server_speed"
        )
    layers = raw["layers"]
    return Chain(
        raw["device_speed"],
        raw["server_speed"],
        raw["rate"],
        raw["input_bytes"],
        np.array([x["flops"] for x in layers], float),
        np.array([x["output_bytes"] for x in layers], float),
    )


POSITIVE = {"type": "number", "exclusiveMinimum": 0}
SCHEMA = {
    "type": "object",
    "required": ["device_speed", "server_speed", "rate", "input_bytes", "layers"],
    "additionalProperties": False,
    "properties": {
        "device_speed": POSITIVE,
        "server_speed": POSITIVE,
        "rate": POSITIVE,
        "input_bytes": POSITIVE,
        "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/toyLayer"}},
    },
}
DEFS = {
    "toyLayer": {
        "type": "object",
        "required": ["flops", "output_bytes"],
        "additionalProperties": False,
        "properties": {"flops": POSITIVE, "output_bytes": POSITIVE},
    }
}


def _scan(chain: Chain, backend: Any, options: Any) -> Result:
    times = [chain.latency(m) for m in range(len(chain.flops) + 1)]
    m = int(np.argmin(times))
    return Result(KEY, "", Termination.OPTIMAL, SolutionStatus.OPTIMAL, times[m], times[m], 0.0, {"split": m})


def _local(chain: Chain, backend: Any, options: Any) -> Result:
    m = len(chain.flops)
    return Result(
        KEY, "", Termination.HEURISTIC, SolutionStatus.FEASIBLE, chain.latency(m), None, 0.0, {"split": m}
    )


def _document(layers: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "name": f"toy-{layers}-s{seed}",
        "formulation": KEY,
        KEY: {
            "device_speed": 1e10,
            "server_speed": 1e12,
            "rate": float(rng.uniform(1e7, 1e8)),
            "input_bytes": 6e5,
            "layers": [
                {"flops": float(f), "output_bytes": float(b)}
                for f, b in zip(rng.uniform(1e8, 1e9, layers), rng.uniform(1e3, 1e6, layers))
            ],
        },
    }


def _execute(case: Case) -> dict[str, Any]:
    inst = optsplit.from_dict(_document(case.spec["layers"], case.seed))
    res = optsplit.solve(inst, KEY, case.method)
    return {"status": res.status.value, "objective": res.objective, "check_ok": optsplit.check(inst, res).ok}


def _cases(quick: bool) -> list[Case]:
    return [Case("size", f"toy-{n}", m, {"layers": n}, KEY) for n in (3, 6) for m in ("scan", "all-local")]


def _report(rows: list[dict[str, str]], out_dir: Path) -> list[Path]:
    path = out_dir / "README.md"
    path.write_text("\n".join(f"{r['instance']} {r['method']} {r['objective']}" for r in rows) + "\n")
    return [path]


class ToySplit:
    """Single split of a chain between a device and a server (minimum latency)."""

    key = KEY
    title = "Toy single split (test plug-in)"
    reference = "test module"
    objective_name = "latency [s]"
    sense = "minimize"
    default_method = "scan"
    plan_legend = "split m = layers 1..m on the device"

    def methods(self) -> Mapping[str, Method]:
        return {
            "scan": Method("scan", "every split point", "exact", _scan),
            "all-local": Method("all-local", "baseline", "baseline", _local),
        }

    def prepare(self, instance: Any) -> Chain:
        return instance.section(KEY)

    def evaluate(self, instance: Any, plan: Mapping[str, Any]) -> Evaluation:
        chain: Chain = instance.section(KEY)
        m = plan.get("split")
        if not isinstance(m, int) or not 0 <= m <= len(chain.flops):
            return Evaluation(float("nan"), {}, [f"split {m!r} is not in 0..{len(chain.flops)}"])
        return Evaluation(chain.latency(m))

    def sections(self) -> Mapping[str, Section]:
        return {KEY: Section(SCHEMA, _build, DEFS)}

    def generators(self) -> Mapping[str, Generator]:
        params = (
            Param("layers", int, 5, "number of layers", minimum=1),
            Param("seed", int, 0, "seed", minimum=0),
        )
        return {
            KEY: Generator(KEY, "toy chains", params, lambda output, layers, seed: _document(layers, seed))
        }

    def suites(self) -> Mapping[str, Suite]:
        return {KEY: Suite(KEY, "toy sweep", ("status", "objective", "check_ok"), _cases, _report, _execute)}


@pytest.fixture
def registered():
    from optsplit.formulations import FORMULATIONS

    optsplit.register_formulation(ToySplit())
    yield
    FORMULATIONS.unregister(KEY)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Announce ToySplit through the entry-point group, as an installed package would, to this
    process and to the worker processes the benchmark runner starts."""
    from optsplit.formulations import FORMULATIONS

    site = tmp_path / "site"
    info = site / "optsplit_toy_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: optsplit-toy-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[optsplit.formulations]\n{KEY} = {__name__}:ToySplit\n")
    here = str(Path(__file__).parent)
    path = os.pathsep.join([str(site), here, *filter(None, [os.environ.get("PYTHONPATH")])])
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.syspath_prepend(str(site))
    FORMULATIONS.refresh()
    yield
    FORMULATIONS.unregister(KEY)


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["optsplit", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return int(exc.value.code or 0), captured.out, captured.err


def test_every_command_works_for_an_installed_formulation(installed, monkeypatch, capsys, tmp_path) -> None:
    code, out, _ = run(monkeypatch, capsys, "list")
    assert code == EXIT_OK and KEY in out and "all-local" in out
    code, out, _ = run(monkeypatch, capsys, "schema")
    assert code == EXIT_OK and "toyLayer" in json.loads(out)["$defs"]

    inst = tmp_path / "toy.toml"
    code, out, _ = run(monkeypatch, capsys, "generate", KEY, "--layers", "6", "--seed", "4", "-o", str(inst))
    assert code == EXIT_OK and inst.exists()
    result = tmp_path / "r.json"
    code, out, _ = run(monkeypatch, capsys, "solve", str(inst), "-o", str(result))
    assert code == EXIT_OK and "split" in out
    doc = json.loads(result.read_text())
    chain = optsplit.load(inst).section(KEY)
    assert doc["objective"] == pytest.approx(min(chain.latency(m) for m in range(7)))  # scan = brute force
    code, out, _ = run(monkeypatch, capsys, "check", str(inst), str(result))
    assert code == EXIT_OK and out.strip().endswith("ok")
    doc["plan"]["split"] = 99
    result.write_text(json.dumps(doc))
    code, _, err = run(monkeypatch, capsys, "check", str(inst), str(result))
    assert code == EXIT_VIOLATION and "split 99 is not in 0..6" in err

    code, out, _ = run(monkeypatch, capsys, "bench", KEY, "--out", str(tmp_path / "bench"))
    assert code == EXIT_OK
    rows = list(csv.DictReader((tmp_path / "bench" / KEY / "results.csv").open()))
    assert len(rows) == 4 and all(r["check_ok"] == "True" for r in rows), rows


def test_its_section_is_validated_with_field_paths(registered, tmp_path) -> None:
    doc = _document(3, 0)
    doc[KEY]["layers"][1]["flops"] = -1.0
    with pytest.raises(InputError, match=r"toysplit\.layers\[1\]\.flops"):
        optsplit.from_dict(doc, "toy.json")
    doc = _document(3, 0)
    doc[KEY]["server_speed"] = 1.0
    with pytest.raises(InputError, match=r"toysplit\.server_speed: the server must not be slower"):
        optsplit.from_dict(doc, "toy.json")


def test_unregistered_it_is_unknown(tmp_path) -> None:
    with pytest.raises(InputError, match="unknown field"):
        optsplit.from_dict(_document(3, 0), "toy.json")


def test_gantt_is_refused_for_a_formulation_without_a_schedule(monkeypatch, capsys, tmp_path) -> None:
    inst = Path(__file__).parent.parent / "instances" / "routing" / "tiered-5-alexnet.toml"
    result = tmp_path / "r.json"
    assert run(monkeypatch, capsys, "solve", str(inst), "-o", str(result))[0] == EXIT_OK
    gantt = str(tmp_path / "g.png")
    code, _, err = run(monkeypatch, capsys, "check", str(inst), str(result), "--gantt", gantt)
    assert code == 2 and "formulation 'routing' has no schedule to draw" in err
