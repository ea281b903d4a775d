"""The command line: exit codes and messages, bad input without tracebacks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import tomli_w
from conftest import INSTANCES, LINE_OPTIMUM

from optsplit.cli import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_OK, EXIT_VIOLATION, main


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["optsplit", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return int(exc.value.code or 0), captured.out, captured.err


def write(tmp_path: Path, doc: dict, name: str = "inst.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(doc))
    return path


def test_solve_and_check_roundtrip(monkeypatch, capsys, tmp_path, line_doc) -> None:
    inst = write(tmp_path, line_doc)
    out_json = tmp_path / "result.json"
    code, out, _ = run(monkeypatch, capsys, "solve", str(inst), "-s", "milp", "-o", str(out_json))
    assert code == EXIT_OK and "optimal" in out
    assert "placement: 1 dev, 2 edge" in out and "paths: #1 dev->ap->edge; #2 edge->ap->dev" in out
    assert json.loads(out_json.read_text())["objective"] == pytest.approx(LINE_OPTIMUM)
    code, out, _ = run(monkeypatch, capsys, "check", str(inst), str(out_json))
    assert code == EXIT_OK and out.strip().endswith("ok")


def test_check_rejects_a_tampered_plan(monkeypatch, capsys, tmp_path, line_doc) -> None:
    inst = write(tmp_path, line_doc)
    plan = {"placement": ["dev", "ap"], "paths": [["dev"], ["dev", "ap"], ["ap", "dev"]]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    code, _, err = run(monkeypatch, capsys, "check", str(inst), str(tmp_path / "plan.json"))
    assert code == EXIT_VIOLATION
    assert "node 'ap' cannot compute layer 2 'L2'" in err


def test_solve_json_output(monkeypatch, capsys, tmp_path, line_doc) -> None:
    code, out, _ = run(monkeypatch, capsys, "solve", str(write(tmp_path, line_doc)), "--json")
    data = json.loads(out)
    assert code == EXIT_OK and data["status"] == "optimal" and data["termination"] == "optimal"
    assert data["plan"]["placement"] == ["dev", "edge"]


@pytest.mark.parametrize("suffix", [".lp", ".mps", ".nl"])
def test_write_model(monkeypatch, capsys, tmp_path, line_doc, suffix) -> None:
    model = tmp_path / f"model{suffix}"
    code, _, _ = run(
        monkeypatch, capsys, "solve", str(write(tmp_path, line_doc)), "-s", "lp", "--write-model", str(model)
    )
    assert code == EXIT_OK and model.stat().st_size > 100


def test_infeasible_exit_code_and_reason(monkeypatch, capsys, tmp_path, line_doc) -> None:
    line_doc["network"]["links"] = line_doc["network"]["links"][1:]
    line_doc["network"]["nodes"][0]["speed"] = 0
    code, out, _ = run(monkeypatch, capsys, "solve", str(write(tmp_path, line_doc)))
    assert code == EXIT_INFEASIBLE
    assert "the input at 'dev' cannot reach any node able to compute layer 1" in out


def _bad(doc_change, line_doc):
    doc_change(line_doc)
    return line_doc


BAD_INPUTS = [
    (
        lambda d: d["network"]["links"][1].update(rate=-5.0),
        "network.links[1].rate: expected a number > 0, got -5.0",
    ),
    (
        lambda d: d["network"]["links"][0].update(rate=float("nan")),
        "network.links[0].rate: expected a finite number, got NaN or infinity",
    ),
    (lambda d: d["network"]["links"][0].pop("rate"), "network.links[0]: missing required field 'rate'"),
    (lambda d: d["network"]["links"][0].update(dst="mars"), "network.links[0].dst: unknown node 'mars'"),
    (lambda d: d["job"].update(source="venus"), "job.source: unknown node 'venus'"),
    (
        lambda d: d["job"]["profile"]["layers"][0].update(flops="many"),
        "job.profile.layers[0].flops: expected number, got str 'many'",
    ),
    (
        lambda d: d["network"]["nodes"].append({"name": "dev"}),
        "network.nodes[3].name: duplicate node name 'dev'",
    ),
    (
        lambda d: d["network"]["links"].append({"src": "ap", "dst": "dev", "rate": 1.0}),
        "network.links[2]: duplicate link ap->dev",
    ),
    (lambda d: d.update(colour="blue"), "unknown field: 'colour' was unexpected"),
    (lambda d: d["job"].update(profile="nowhere.toml"), "job.profile: profile file 'nowhere.toml' not found"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INPUTS)
def test_bad_input_names_file_and_field(monkeypatch, capsys, tmp_path, line_doc, change, message) -> None:
    change(line_doc)
    path = write(tmp_path, line_doc)
    code, _, err = run(monkeypatch, capsys, "solve", str(path))
    assert code == EXIT_INPUT
    assert err.startswith(f"error: {path}: ")
    assert message in err


def test_malformed_files(monkeypatch, capsys, tmp_path) -> None:
    for name, text, expected in (
        ("a.toml", "name = 'x'\n[network\n", "malformed TOML"),
        ("b.json", '{"name": ', "malformed JSON"),
        ("c.yaml", "name: [unclosed\n", "malformed YAML"),
        ("d.txt", "", "unknown file type '.txt'"),
    ):
        (tmp_path / name).write_text(text)
        code, _, err = run(monkeypatch, capsys, "solve", str(tmp_path / name))
        assert code == EXIT_INPUT and expected in err and name in err
    code, _, err = run(monkeypatch, capsys, "solve", str(tmp_path / "missing.toml"))
    assert code == EXIT_INPUT and "missing.toml: file not found" in err


def test_json_and_yaml_load_like_toml(tmp_path, line_doc) -> None:
    import yaml

    import optsplit

    (tmp_path / "i.json").write_text(json.dumps(line_doc))
    (tmp_path / "i.yaml").write_text(yaml.safe_dump(line_doc))
    for name in ("i.json", "i.yaml"):
        res = optsplit.solve(optsplit.load(tmp_path / name))
        assert res.objective == pytest.approx(LINE_OPTIMUM, rel=1e-12)


def test_unknown_names_on_cli(monkeypatch, capsys, tmp_path, line_doc) -> None:
    path = str(write(tmp_path, line_doc))
    code, _, err = run(monkeypatch, capsys, "solve", path, "-f", "teleport")
    assert code == EXIT_INPUT and "unknown formulation 'teleport'; known: online, robust, routing" in err
    code, _, err = run(monkeypatch, capsys, "solve", path, "-s", "gurobi")
    assert code == EXIT_INPUT and "unknown solver for 'routing' 'gurobi'" in err
    code, _, err = run(monkeypatch, capsys, "solve", path, "--time-limit", "-3")
    assert code == EXIT_INPUT and "Invalid value for '--time-limit'" in err


def test_missing_formulation(monkeypatch, capsys, tmp_path, line_doc) -> None:
    line_doc.pop("formulation")
    code, _, err = run(monkeypatch, capsys, "solve", str(write(tmp_path, line_doc)))
    assert code == EXIT_INPUT and "formulation: no formulation given" in err


def test_list_generate_arch_schema(monkeypatch, capsys, tmp_path) -> None:
    code, out, _ = run(monkeypatch, capsys, "list")
    assert code == EXIT_OK and "dijkstra" in out and "pyomo-scip" in out
    target = tmp_path / "g.toml"
    code, out, _ = run(
        monkeypatch,
        capsys,
        "generate",
        "geometric",
        "-n",
        "12",
        "--seed",
        "3",
        "--profile",
        str(INSTANCES / "profiles" / "alexnet.toml"),
        "-o",
        str(target),
    )
    assert code == EXIT_OK and "12 nodes" in out
    code, out, _ = run(monkeypatch, capsys, "solve", str(target))
    assert code == EXIT_OK
    code, _, err = run(monkeypatch, capsys, "generate", "torus", "-o", str(target))
    assert code == EXIT_INPUT and "No such command 'torus'" in err
    code, _, _ = run(monkeypatch, capsys, "arch", "resnet18", "-o", str(tmp_path / "r.toml"))
    assert code == EXIT_OK and (tmp_path / "r.toml").exists()
    code, out, _ = run(monkeypatch, capsys, "schema")
    assert code == EXIT_OK and json.loads(out)["title"] == "optsplit instance"
