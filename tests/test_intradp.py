"""Formulation `intradp`: halo rows by hand, MILP = brute force, the method ordering, the
layered-graph check, evaluator = claims, plan tables and bad input."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import optsplit
from optsplit.errors import InputError, OptionError
from optsplit.formulations.intradp import make_plan, planners
from optsplit.formulations.intradp.data import prepare
from optsplit.formulations.intradp.generate import make, random_graph
from optsplit.formulations.intradp.recursion import figures
from optsplit.formulations.intradp.slicing import all_edge_needs, edge_needs, grid_exchanges, grid_tables
from optsplit.instance.model import TimeStat
from optsplit.profiles.halo import IDENTITY, Window
from optsplit.profiles.operators import DEVICE, INPUT, SERVER, GraphBuilder, graph_to_dict, write_graph
from optsplit.solvers.graph import shortest_path

NODES = {"mip_max_nodes": 200_000}  # a guard, never a clock: tiny MILPs close far below it
REPO = Path(__file__).resolve().parents[1]


def instance(tmp_path: Path, **kw) -> optsplit.Instance:
    doc = make(tmp_path / "x.toml", **kw)
    return optsplit.from_dict(doc, "x.toml", tmp_path)


def solve(inst, method, **kw):
    res = optsplit.solve(inst, solver=method, **kw)
    report = optsplit.check(inst, res)
    assert report.ok, (method, report.messages())
    return res


# ------------------------------------------------------------------ halo arithmetic by hand


def test_rows_each_side_reads_hand_worked() -> None:
    # 3x3 / stride 1 / pad 1 on 8 rows, device computes output rows [0, 4): it reads input
    # rows [0, 5); the server's rows [4, 8) read [3, 8).
    lo, hi = edge_needs(Window(3, 1, 1), np.array([4]), 8, 8)
    assert (lo[0], hi[0]) == (3, 5)
    # 3x3 / stride 2 / pad 1 on 8 rows -> 4 rows; device rows [0, 2) read rows 0..3 (row o reads
    # 2o-1..2o+1), server rows [2, 4) read rows 3..7.
    lo, hi = edge_needs(Window(3, 2, 1), np.array([2]), 4, 8)
    assert (lo[0], hi[0]) == (3, 4)
    # Two output rows of that window need (n - 1)s + k - 2p = 3 input rows in all (g(3) = 2);
    # Intra-DP's n s + k - 1 - 2p says 4: it over-counts by s - 1. We use the exact rows.
    w = Window(3, 2, 1)
    assert int(w.min_input_length(2)) == 3 and int(w.out_length(3)) == 2
    assert 2 * 2 + 3 - 1 - 2 == 3 + (2 - 1)
    # 2x2 / stride 2 pooling on 7 rows -> 3: the server's last row reads rows 4, 5 only.
    lo, hi = edge_needs(Window(2, 2, 0), np.array([1]), 3, 7)
    assert (lo[0], hi[0]) == (2, 2)
    # Identity (element-wise): the same rows; empty sides read nothing.
    lo, hi = edge_needs(IDENTITY, np.array([0, 3, 6]), 6, 6)
    assert lo.tolist() == [0, 3, 6] and hi.tolist() == [0, 3, 6]
    # Barrier consumer: the side that computes it reads the whole tensor.
    lo, hi = edge_needs(None, np.array([0, 1]), 1, 7)
    assert lo.tolist() == [0, 7] and hi.tolist() == [0, 7]


def _hand_graph(tmp_path: Path) -> Path:
    b = GraphBuilder("hand", (2, 8, 8))
    x = b.conv("c1", INPUT, 4, 3, 1, 1)
    x = b.unary("r1", x, "relu")
    x = b.conv("c2", x, 4, 3, 2, 1)
    x = b.adaptive_avgpool("gap", x, 1)
    x = b.flatten("flat", x)
    b.linear("fc", x, 3)
    g = b.graph("hand-worked stack")
    times = {DEVICE: TimeStat(1e-3, 0.0), SERVER: TimeStat(1e-4, 0.0)}
    ops = tuple(replace(op, time=times) for op in g.operators)
    path = tmp_path / "hand.json"
    write_graph(replace(g, operators=ops), path)
    return path


def test_exchanged_rows_of_a_stack_by_hand(tmp_path) -> None:
    _hand_graph(tmp_path)
    doc = {"name": "hand", "formulation": "intradp", "intradp": {"graph": "hand.json", "bandwidth": 1.0}}
    inst = optsplit.from_dict(doc, "hand.toml", tmp_path)
    shares = {"c1": 0.5, "r1": 0.5, "c2": 0.5, "gap": 0.0, "flat": 0.0, "fc": 1.0}
    ev = optsplit.check(inst, {"shares": shares}).evaluation
    plan, _ = make_plan(prepare(inst), np.array([1.0, *shares.values(), 1.0]))
    got = {(r["tensor"], r["direction"]): r["rows"] for r in plan["exchanges"]}
    # input: server's c1 rows [4, 8) read input rows [3, 8): 5 rows up.  r1 (held [0, 4)): the
    # server's c2 rows [2, 4) read rows from 3: 1 row up; the device's c2 rows [0, 2) read rows
    # < 4, which it holds.  c2 (held [0, 2) of 4): gap on the server needs it whole: 2 rows up.
    # fc (1 row, on the device) needs flat whole from the server: 1 row down.
    assert got == {("input", "up"): 5, ("r1", "up"): 1, ("c2", "up"): 2, ("flat", "down"): 1}
    assert ev.metrics["bytes_up"] == pytest.approx(5 * 2 * 8 * 4 + 1 * 4 * 8 * 4 + 2 * 4 * 4 * 4)


# ------------------------------------------------------------------ exact = brute force


def _brute_force(data, grid: int) -> float:
    t = grid_tables(data, grid)
    choices = [np.flatnonzero(t.allowed[j]) for j in range(data.n_positions)]
    plans = np.array(list(itertools.product(*choices)), dtype=np.int64)
    return float(planners.score(data, t, plans).min())


@pytest.mark.parametrize("residual", [0, 1])
@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("strong", [False, True])
def test_milp_equals_brute_force(tmp_path, seed, residual, strong) -> None:
    inst = instance(tmp_path, layers=2, seed=seed, residual=residual, bandwidth=2.0)
    res = solve(inst, "milp", solver_options={"grid": 2, "strong": strong, **NODES})
    assert res.status.value == "optimal"
    best = _brute_force(prepare(inst), 2)
    assert res.objective == pytest.approx(best, rel=1e-7)
    assert res.bound <= res.objective * (1 + 1e-9)


@pytest.mark.parametrize(("seed", "bandwidth"), [(3, 20.0), (0, 1.0)])
def test_strong_milp_equals_brute_force_on_residual_dags(tmp_path, seed, bandwidth) -> None:
    inst = instance(tmp_path, layers=3, seed=seed, residual=1, bandwidth=bandwidth)
    res = solve(inst, "milp", solver_options={"grid": 2, "strong": True, **NODES})
    assert res.status.value == "optimal"
    assert res.objective == pytest.approx(_brute_force(prepare(inst), 2), rel=1e-7)
    assert res.metrics["rows"] > solve(inst, "milp", solver_options={"grid": 2, **NODES}).metrics["rows"]
    with pytest.raises(OptionError, match="strong"):
        optsplit.solve(inst, solver="milp", solver_options={"strong": "yes"})


def test_milp_energy_under_a_bound_equals_brute_force(tmp_path) -> None:
    inst = instance(tmp_path, layers=2, seed=1, bandwidth=2.0, objective="energy", latency_bound=0.009)
    res = solve(inst, "milp", solver_options={"grid": 2, **NODES})
    best = _brute_force(prepare(inst), 2)
    assert np.isfinite(best) and res.objective == pytest.approx(best, rel=1e-7)
    assert res.metrics["latency"] <= 0.009 * (1 + 1e-6)
    local = optsplit.solve(inst, solver="all-local")  # 11.4 ms: breaks the bound, and says so
    assert local.solution_status.value == "infeasible" and "exceeds the bound" in local.explanation
    assert not optsplit.check(inst, local).ok


# ------------------------------------------------------------------ ordering of the methods


@pytest.mark.parametrize("residual", [0, 1])
@pytest.mark.parametrize("bandwidth", [1.0, 5.0])
def test_milp_heuristic_layerwise_baselines_order(tmp_path, residual, bandwidth) -> None:
    inst = instance(tmp_path, layers=4, seed=3, residual=residual, bandwidth=bandwidth)
    value = {
        m: solve(inst, m, **({"solver_options": NODES} if m == "milp" else {})).objective
        for m in ("milp", "intradp", "layerwise", "all-local", "all-offload")
    }
    tol = 1 + 1e-9
    assert value["milp"] <= value["intradp"] * tol
    assert value["intradp"] <= value["layerwise"] * tol
    assert value["layerwise"] <= min(value["all-local"], value["all-offload"]) * tol


def test_splitting_inside_operators_beats_layerwise_somewhere(tmp_path) -> None:
    inst = instance(tmp_path, layers=4, seed=0, bandwidth=1.0)
    milp = solve(inst, "milp", solver_options=NODES)
    heur = solve(inst, "intradp")
    layer = solve(inst, "layerwise")
    assert milp.objective < heur.objective < layer.objective * (1 - 0.05)
    ev = optsplit.check(inst, heur).evaluation
    assert ev.metrics["split_operators"] > 0


# ------------------------------------------------------------------ the layered graph


def _layered_shortest_path(data) -> float:
    """Two rows (device, server) per position of a chain, transfer edges between rows."""
    p = data.n_positions
    tails, heads, cost = [], [], []
    for j in range(1, p):
        whole = data.rows[j - 1] * data.row_bytes[j - 1]
        for a in (0, 1):
            for b in (0, 1):
                if (data.fixed[j - 1] and a) or (data.fixed[j] and b):
                    continue
                c = data.t_dev[j] if b == 0 else data.t_srv[j]
                c += (
                    whole / data.up_rate
                    if (a, b) == (0, 1)
                    else whole / data.down_rate
                    if (a, b) == (1, 0)
                    else 0
                )
                tails.append(2 * (j - 1) + a)
                heads.append(2 * j + b)
                cost.append(c + 1.0)  # +1 per edge (p - 1 edges on every path): no zero weights
    g = sp.csr_matrix((cost, (tails, heads)), shape=(2 * p, 2 * p))
    return shortest_path(g, 0, 2 * (p - 1)).distance - (p - 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_shares_are_the_layered_shortest_path(tmp_path, seed) -> None:
    inst = instance(tmp_path, layers=4, seed=seed, bandwidth=[0.5, 3.0, 30.0][seed])
    data = prepare(inst)
    assert data.is_chain
    binary = solve(inst, "milp", solver_options={"grid": 1, **NODES})
    path = _layered_shortest_path(data)
    layer = solve(inst, "layerwise")
    assert binary.objective == pytest.approx(path, rel=1e-9)
    assert layer.objective == pytest.approx(path, rel=1e-9)
    fractional = solve(inst, "milp", solver_options=NODES)
    assert fractional.objective <= binary.objective * (1 + 1e-9)


# ------------------------------------------------------------------ evaluator and claims


def test_evaluator_is_the_engine_and_the_energy_formula(tmp_path) -> None:
    inst = instance(tmp_path, layers=4, seed=0, residual=1, bandwidth=1.0)
    data = prepare(inst)
    res = solve(inst, "intradp")
    ev = optsplit.check(inst, res).evaluation
    pw = data.power
    m = ev.metrics
    energy = pw.compute * m["device_busy"] + pw.idle * (m["latency"] - m["device_busy"])
    energy += pw.transmit * m["airtime_up"] + pw.receive * m["airtime_down"]
    assert m["energy"] == pytest.approx(energy, rel=1e-9)
    assert res.metrics["latency"] == pytest.approx(m["latency"], rel=1e-9)
    # the planners' table path gives the same figures as the exact rows
    t = grid_tables(data, 10)
    gidx = np.rint(np.array([1.0, *res.plan["shares"].values(), 1.0]) * 10).astype(int)
    f = figures(data, *grid_exchanges(data, t, gidx[None, :]))
    assert f.latency[0] == pytest.approx(m["latency"], rel=1e-12)
    tl, starts = optsplit.get_formulation("intradp").timeline(inst, res.plan)
    assert tl.finish(starts).max() == pytest.approx(m["latency"], rel=1e-12)


def test_shipped_instances_load_and_plan(tmp_path) -> None:
    inst = optsplit.load(REPO / "instances/intradp/vgg19_bn-10MBps.toml")
    values = {m: solve(inst, m).objective for m in ("intradp", "layerwise", "all-local", "all-offload")}
    assert values["intradp"] <= values["layerwise"] * (1 + 1e-9)
    assert values["all-local"] == pytest.approx(0.088, rel=1e-6)  # the profile's whole-model time


def test_batched_halo_rows_equal_edge_by_edge() -> None:
    """All edges of one window in one call give the rows of edge-by-edge calls (ResNet-152:
    3×3, strided, pooling, identity and barrier consumers, random device rows)."""
    data = prepare(optsplit.load(REPO / "instances/intradp/resnet152-10MBps.toml"))
    rng = np.random.default_rng(0)
    m = np.floor(rng.random((4, data.n_positions)) * (data.rows + 1)).astype(np.int64)
    lo, hi = all_edge_needs(data, m[:, data.edge_dst])
    for e, (p, c) in enumerate(zip(data.edge_src.tolist(), data.edge_dst.tolist())):
        want = edge_needs(data.windows[c], m[:, c], int(data.rows[c]), int(data.rows[p]))
        assert np.array_equal(lo[:, e], want[0]) and np.array_equal(hi[:, e], want[1]), e


@pytest.mark.parametrize("network", ["resnet152", "densenet121", "mobilenet_v2"])
def test_fill_copies_single_inputs_like_the_step_by_step_rule(network) -> None:
    inst = optsplit.load(REPO / f"instances/intradp/{network}-10MBps.toml")
    data = prepare(inst)
    rng = np.random.default_rng(1)
    groups = [[int(j)] for j in sorted(rng.choice(np.arange(1, data.n_positions - 1), 4, replace=False))]
    values = rng.integers(0, 11, size=(20, len(groups)))
    expected = np.empty((20, data.n_positions), dtype=np.int64)
    at = {grp[0]: i for i, grp in enumerate(groups)}
    for j in range(data.n_positions):
        if data.fixed[j]:
            expected[:, j] = 10
            continue
        col = values[:, at[j]] if j in at else expected[:, data.parents[j]].min(axis=1)
        expected[:, j] = col if data.local[j] else np.where(2 * col >= 10, 10, 0)
    np.testing.assert_array_equal(planners.fill(data, 10, groups, values), expected)


def test_bandwidth_table_is_looked_up(tmp_path) -> None:
    inst = instance(tmp_path, layers=4, seed=0, bandwidth=4.5)
    table = [1, 2, 3, 4, 5, 6]
    res = solve(inst, "intradp", solver_options={"bandwidth_table": table})
    assert res.metrics["looked_up_bandwidth"] == 4.0
    assert [r["bandwidth"] for r in res.metrics["table"]] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    data = prepare(inst)
    direct = planners.plan_intradp(data.with_bandwidth(4.0), grid_tables(data, 10))
    assert res.plan["shares"] == {data.names[j]: direct.gidx[j] / 10 for j in range(1, data.n_positions - 1)}
    slow = instance(tmp_path, layers=4, seed=0, bandwidth=0.5)
    assert (
        solve(slow, "intradp", solver_options={"bandwidth_table": table}).metrics["looked_up_bandwidth"]
        == 1.0
    )
    with pytest.raises(OptionError, match="bandwidth_table"):
        optsplit.solve(inst, solver="intradp", solver_options={"bandwidth_table": [0]})
    with pytest.raises(OptionError, match="bandwidth_table"):
        optsplit.solve(inst, solver="intradp", solver_options={"bandwith_table": [1]})


def test_bandwidth_table_from_the_command_line(tmp_path, monkeypatch, capsys) -> None:
    import sys

    from optsplit.cli import main

    doc = make(tmp_path / "x.toml", layers=3, seed=0, bandwidth=4.5)
    (tmp_path / "x.json").write_text(json.dumps(doc))

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["optsplit", "solve", str(tmp_path / "x.json"), *args])
        with pytest.raises(SystemExit) as exc:
            main()
        out = capsys.readouterr()
        assert "Traceback" not in out.err
        return int(exc.value.code or 0), out.out, out.err

    code, out, _ = run("-s", "intradp", "--bandwidth-table", "1-6", "--json")
    metrics = json.loads(out)["metrics"]
    assert code == 0 and metrics["looked_up_bandwidth"] == 4.0 and len(metrics["table"]) == 6
    code, out, _ = run("-s", "intradp", "--bandwidth-table", "1,2.5,8", "--json")
    assert code == 0 and json.loads(out)["metrics"]["looked_up_bandwidth"] == 2.5
    code, out, _ = run("-s", "intradp", "--bandwidth-table", "1e-1,2", "--json")  # an exponent, not a range
    assert code == 0 and json.loads(out)["metrics"]["looked_up_bandwidth"] == 2.0
    for bad in ("0-3", "a-b", "1,,2", "5-1", "1,2,-3", "1-1000000000"):
        code, _, err = run("-s", "intradp", "--bandwidth-table", bad)
        assert code == 2 and "--bandwidth-table" in err
    code, _, err = run("-s", "intradp", "--bandwidth-table", "1-3", "-O", "bandwidth_table=[1]")
    assert code == 2 and "give the table once" in err
    for method, says in (("layerwise", "takes no solver_options"), ("milp", "HiGHS options take a number")):
        code, _, err = run("-s", method, "--bandwidth-table", "1-3")
        assert code == 2 and says in err
    energy = make(
        tmp_path / "e.toml", layers=3, seed=0, bandwidth=4.5, objective="energy", latency_bound=1e-4
    )
    (tmp_path / "x.json").write_text(json.dumps(energy))  # no plan meets 0.1 ms
    code, out, _ = run("-s", "layerwise")
    assert code == 4 and "infeasible" in out  # the baseline's plan breaks the bound: not a success
    code, _, _ = run("-s", "dp")
    assert code == 3  # proven: no grid plan meets it
    (tmp_path / "bad-plan.json").write_text(json.dumps({"shares": {"conv0": 2}}))
    monkeypatch.setattr(
        sys, "argv", ["optsplit", "check", str(tmp_path / "x.json"), str(tmp_path / "bad-plan.json")]
    )
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "bad-plan.json: plan.shares['conv0']: share 2 is outside" in err


def test_milp_model_is_exported(tmp_path) -> None:
    inst = instance(tmp_path, layers=2, seed=0)
    path = tmp_path / "m.lp"
    res = solve(inst, "milp", write_model=path, solver_options={"grid": 2, **NODES})
    text = path.read_text()
    assert "u_conv0_1" in text and "D_end" in text and res.status.value == "optimal"


# ------------------------------------------------------------------ bad input


def test_fractional_share_on_a_barrier_is_refused(tmp_path) -> None:
    inst = instance(tmp_path, layers=2, seed=0)
    res = solve(inst, "all-local")
    plan = json.loads(json.dumps(res.plan))
    plan["shares"]["fc"] = 0.5
    with pytest.raises(InputError, match=r"plan\.shares\['fc'\].*no local dimension"):
        optsplit.check(inst, plan)
    plan["shares"]["fc"] = 1.0
    plan["shares"]["conv0"] = 1.5
    with pytest.raises(InputError, match=r"outside \[0, 1\]"):
        optsplit.check(inst, plan)
    del plan["shares"]["conv0"]
    with pytest.raises(InputError, match="no share for operator 'conv0'"):
        optsplit.check(inst, plan)


def _write(tmp_path: Path, doc: dict) -> optsplit.Instance:
    (tmp_path / "g.json").write_text(json.dumps(doc))
    return optsplit.from_dict(
        {"name": "bad", "formulation": "intradp", "intradp": {"graph": "g.json", "bandwidth": 1.0}},
        "bad.toml",
        tmp_path,
    )


def test_cycle_and_shape_mismatch_are_named(tmp_path) -> None:
    doc = graph_to_dict(random_graph(3, 0))
    layers = doc["layers"]
    cyclic = json.loads(json.dumps(doc))
    cyclic["layers"][0]["inputs"] = [layers[2]["name"]]
    with pytest.raises(
        InputError, match=r"g\.json: layers\[\d\]\.inputs: the operators form a cycle: .*'conv0'"
    ):
        _write(tmp_path, cyclic)
    shuffled = json.loads(json.dumps(doc))  # out of order but acyclic: accepted, re-ordered
    for k, layer in enumerate(shuffled["layers"]):
        layer["inputs"] = layer.get("inputs", [INPUT if k == 0 else shuffled["layers"][k - 1]["name"]])
    shuffled["layers"][1], shuffled["layers"][2] = shuffled["layers"][2], shuffled["layers"][1]
    assert prepare(_write(tmp_path, shuffled)).names[1:3] == ("conv0", "relu0")
    bad = json.loads(json.dumps(doc))
    bad["layers"][0]["out_shape"][1] += 1
    with pytest.raises(InputError, match=r"layers\[0\]\.out_shape: shape mismatch: 'conv0'"):
        _write(tmp_path, bad)
    flat = json.loads(json.dumps(doc))
    fc = next(i for i, layer in enumerate(flat["layers"]) if layer["name"] == "fc")
    flat["layers"][fc]["split_dim"] = "H"
    with pytest.raises(InputError, match=rf"layers\[{fc}\]\.split_dim: .*no rows"):
        _write(tmp_path, flat)
    unknown = json.loads(json.dumps(doc))
    unknown["layers"][1]["inputs"] = ["nope"]
    with pytest.raises(InputError, match=r"layers\[1\]\.inputs\[0\]: unknown input 'nope'"):
        _write(tmp_path, unknown)


def test_section_errors(tmp_path) -> None:
    with pytest.raises(InputError, match=r"intradp\.graph: graph file 'missing.json' not found"):
        optsplit.from_dict(
            {"name": "x", "formulation": "intradp", "intradp": {"graph": "missing.json", "bandwidth": 1.0}},
            "x.toml",
            tmp_path,
        )
    doc = make(tmp_path / "x.toml", layers=2)
    doc["intradp"]["objective"] = "energy"
    with pytest.raises(InputError, match=r"intradp\.latency_bound: the energy objective needs"):
        optsplit.from_dict(doc, "x.toml", tmp_path)
    doc = make(tmp_path / "x.toml", layers=2)
    doc["intradp"]["latency_bound"] = 0.01  # with the latency objective: one meaning only, refused
    with pytest.raises(InputError, match=r"intradp\.latency_bound: latency_bound applies to the energy"):
        optsplit.from_dict(doc, "x.toml", tmp_path)
    doc = make(tmp_path / "x.toml", layers=2)
    doc["intradp"]["bandwidth"] = 0
    with pytest.raises(InputError, match=r"intradp\.bandwidth"):
        optsplit.from_dict(doc, "x.toml", tmp_path)
    doc["intradp"]["bandwidth"] = 1.0
    doc["intradp"]["device"] = "no-such-board"
    with pytest.raises(InputError, match="no time for 'no-such-board'"):
        optsplit.from_dict(doc, "x.toml", tmp_path)
