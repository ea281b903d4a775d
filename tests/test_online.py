"""Formulation `online` (ENACHI): per-frame decisions against brute force and a layered graph,
queues, convergence of the energy, the V trade-off, the offline bound, reproducibility."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import INSTANCES

import optsplit
from optsplit.errors import InputError
from optsplit.formulations.online import outer
from optsplit.formulations.online.data import OnlineData
from optsplit.formulations.online.generate import online_instance
from optsplit.formulations.online.offline import upper_bound
from optsplit.formulations.online.policies import POLICIES, queue_update, run
from optsplit.formulations.online.simulate import run as simulate
from optsplit.solvers.graph import shortest_path

SMALL = INSTANCES / "online" / "small.toml"
PROFILE = str(INSTANCES / "profiles" / "measured" / "resnet18.toml")
TABLE = str(INSTANCES / "online" / "accuracy" / "resnet18.toml")


@pytest.fixture(scope="module")
def small() -> OnlineData:
    return optsplit.load(SMALL).section("online")


def _doc(**kw) -> dict:
    return online_instance(PROFILE, TABLE, kw.pop("devices", 3), kw.pop("seed", 0), **kw)


def test_bad_input_names_the_field() -> None:
    doc = _doc()
    doc["online"]["devices"][1]["p_max"] = -1.0
    with pytest.raises(InputError, match=r"online\.devices\[1\]\.p_max"):
        optsplit.from_dict(doc, "x.toml")
    doc = _doc()
    doc["online"]["devices"][2]["name"] = "dev0"
    with pytest.raises(InputError, match=r"online\.devices\[2\]\.name: duplicate device name"):
        optsplit.from_dict(doc, "x.toml")
    doc = _doc()
    table = {
        "full_accuracy": 0.7,
        "chance": 0.001,
        "points": [{"split": "nope", "fraction": [0, 1], "accuracy": [0, 0.7]}],
    }
    doc["online"]["accuracy"] = table
    with pytest.raises(InputError, match=r"online\.accuracy\.points\[0\]\.split: split 'nope'"):
        optsplit.from_dict(doc, "x.toml")
    table["points"][0] = {"split": "layer3.1", "fraction": [0, 0.5, 0.4], "accuracy": [0, 0.5, 0.6]}
    with pytest.raises(InputError, match=r"points\[0\]\.fraction: fractions must increase"):
        optsplit.from_dict(doc, "x.toml")
    doc = _doc(deadline=0.0005)
    with pytest.raises(InputError, match=r"online\.slot"):
        optsplit.from_dict(doc, "x.toml")


def test_surrogate_is_monotone_concave_and_inverted(small: OnlineData) -> None:
    sur = small.surrogate
    rho = np.linspace(0, 1, 201)
    for s in range(len(small.split_names)):
        a = sur.value(np.full(rho.size, s), rho)
        assert np.all(np.diff(a) >= -1e-15) and np.all(np.diff(a, 2) <= 1e-12)
        assert sur.rmse[s] < 0.03  # the fit follows the shipped table
    s = np.array([0, 2, 3])
    target = np.array([0.3, 0.5, 0.69])
    r = sur.fraction_for(s, target)
    assert np.allclose(sur.value(s, r), target)
    assert np.isinf(sur.fraction_for(np.array([0]), np.array([0.99])))[0]


def test_queue_update_is_the_virtual_queue() -> None:
    rng = np.random.default_rng(3)
    q, e, b = rng.random(50), rng.random(50), rng.random(50)
    expected = [max(qi + ei - bi, 0.0) for qi, ei, bi in zip(q, e, b)]
    assert np.array_equal(queue_update(q, e, b), expected)


def _brute(data: OnlineData, q, V, omega, power):
    """Per device the best (split, packets) by plain loops over the planning model."""
    best = []
    rate = outer.mean_rate(data, omega, power)
    for n in range(data.n):
        top = (-np.inf, None)
        for s in range(len(data.split_names)):
            if (not data.feasible[n, s] and s != data.local) or data.packets[s] == 0:
                kmax = 0
            else:
                win = (data.last[s] - data.first[n, s]) * data.slot
                kmax = min(int(data.packets[s]), int(np.floor(rate[n] * win / data.packet_bits + 1e-9)))
            for k in range(kmax + 1):
                acc = data.surrogate.value(np.array(s), np.array(k / max(data.packets[s], 1)))
                acc = float(acc) if data.feasible[n, s] else 0.0
                e = data.e_loc[n, s] + (power[n] * k * data.packet_bits / rate[n] if k else 0.0)
                u = V * acc - q[n] * e
                if u > top[0]:
                    top = (u, (s, k))
        best.append(top)
    return best


def _layered(data: OnlineData, q, V, omega, power, n: int):
    """Layered graph of device n: source → (s, 0) → … → (s, k) → sink; every path has the same
    number of edges (a stopped path idles through 'done' nodes), so shifting all weights by one
    constant keeps them ≥ 0 for Dijkstra and leaves the shortest path unchanged."""
    u = outer.utilities(data, q, V, omega, power, np.ones((data.n, len(data.split_names)), bool))[n]
    S, K1 = u.shape
    layers = K1 + 1  # packet layers 0..K, then the sink
    node = lambda s, k, done: 1 + (s * K1 + k) * 2 + done  # noqa: E731
    sink = 1 + S * K1 * 2
    tails, heads, weights = [], [], []
    for s in range(S):
        if not np.isfinite(u[s, 0]):
            continue
        tails.append(0)
        heads.append(node(s, 0, 0))
        weights.append(-u[s, 0])
        for k in range(K1 - 1):
            for done in (0, 1):
                tails.append(node(s, k, done))
                heads.append(node(s, k + 1, 1))
                weights.append(0.0)  # idle on
            if np.isfinite(u[s, k + 1]):
                tails.append(node(s, k, 0))
                heads.append(node(s, k + 1, 0))
                weights.append(-(u[s, k + 1] - u[s, k]))  # one more packet
        for done in (0, 1):
            tails.append(node(s, K1 - 1, done))
            heads.append(sink)
            weights.append(0.0)
    w = np.array(weights)
    shift = max(0.0, -w.min())
    graph = sp.csr_matrix((w + shift, (tails, heads)), shape=(sink + 1, sink + 1))
    path = shortest_path(graph, 0, sink)
    first = path.vertices[1] - 1
    s = first // 2 // K1
    sent = sum(
        1 for a, b in zip(path.vertices[1:-2], path.vertices[2:-1]) if (a - 1) % 2 == 0 and (b - 1) % 2 == 0
    )
    return -(path.distance - shift * layers), (s, sent)


@pytest.mark.parametrize("seed", range(6))
def test_frame_decision_is_the_brute_force_argmax_and_the_layered_shortest_path(small, seed) -> None:
    rng = np.random.default_rng(seed)
    n = small.n
    q = rng.uniform(0, 20, n)
    V = float(rng.uniform(0.5, 5))
    omega = rng.dirichlet(np.ones(n))
    power = rng.uniform(0.01, 1, n) * small.p_max
    choice = outer.discrete(small, q, V, omega, power, np.ones((n, len(small.split_names)), bool))
    for dev, (value, (s, k)) in enumerate(_brute(small, q, V, omega, power)):
        assert choice.utility[dev] == pytest.approx(value, rel=1e-12, abs=1e-12)
        assert (choice.split[dev], choice.cap[dev]) == (s, k)
        graph_value, graph_choice = _layered(small, q, V, omega, power, dev)
        assert graph_value == pytest.approx(value, rel=1e-9, abs=1e-9)
        assert graph_choice == (s, k)


def test_convex_step_is_not_beaten_by_a_grid(small) -> None:
    """For fixed splits, CVXPY's (ω, p) is at least as good as any point of a fine grid."""
    step = outer.ConvexStep(small)
    split = np.array([0, 2, 0])  # input, layer3.1, input
    q = np.array([5.0, 1.0, 10.0])
    V = 2.0
    omega, power = step.solve(split, q, V)
    assert omega.sum() <= 1 + 1e-9 and np.all(power <= small.p_max + 1e-12)

    def planned(w, p):
        rate = outer.mean_rate(small, w, p)
        win = outer.window(small)[np.arange(3), split]
        rho = np.minimum(rate * win / small.bits[split], 1.0)
        acc = small.surrogate.value(split, rho)
        return float(np.sum(V * acc - q * p * win * (rho > 0)))

    best_grid = -np.inf
    levels = np.linspace(0.02, 1.0, 13)
    for w0, w1 in itertools.product(levels, levels):
        if w0 + w1 >= 1:
            continue
        w = np.array([w0, w1, 1 - w0 - w1])
        for ps in itertools.product(levels, repeat=3):
            best_grid = max(best_grid, planned(w, np.array(ps) * small.p_max))
    assert planned(omega, power) >= best_grid - 1e-6 * abs(best_grid)


def test_every_method_plan_passes_the_independent_check(small) -> None:
    inst = optsplit.load(SMALL)
    doc_frames = 8
    inst.sections["online"] = small.with_(frames=doc_frames)
    for name in (*POLICIES, "offline"):
        res = optsplit.solve(inst, "online", name)
        report = optsplit.check(inst, res)
        assert report.ok, (name, report.messages())
        assert len(res.plan["frames"]) == doc_frames
    tampered = copy.deepcopy(res.plan)
    tampered["frames"][0]["bandwidth"] = [0.9, 0.9, 0.9]
    assert not optsplit.check(inst, tampered, "online").evaluation.feasible


def test_average_energy_converges_below_the_budget() -> None:
    """ENACHI's time-averaged energy per device approaches Ē_n from above as frames grow:
    within 10 % of it after 400 frames (seed 1), closer than after 60."""
    data = optsplit.from_dict(_doc(devices=3, seed=1, V=1.0), "x", Path(".")).section("online")
    traj = run(data, "enachi", 400, 1)
    energy = traj.array("energy")
    late = energy.mean(0) / data.budget
    early = energy[:60].mean(0) / data.budget
    assert np.all(late <= 1.10), late
    assert late.max() < early.max()


def test_larger_V_trades_energy_for_accuracy_on_average() -> None:
    data = optsplit.from_dict(_doc(devices=3, seed=2), "x", Path(".")).section("online")
    acc, energy = [], []
    for V in (0.2, 2.0, 20.0):
        runs = [run(data.with_(V=V), "enachi", 120, seed) for seed in range(3)]
        acc.append(np.mean([r.accuracy for r in runs]))
        energy.append(np.mean([r.array("energy").mean() for r in runs]))
    assert acc[0] <= acc[1] <= acc[2], acc
    assert energy[0] <= energy[1] <= energy[2], energy


def test_no_policy_beats_the_offline_bound(small) -> None:
    frames, seed = 15, 4
    for name in POLICIES:
        traj = run(small, name, frames, seed)
        used = np.maximum(traj.array("energy").mean(0), small.budget)
        bound = upper_bound(small, frames, seed, used)
        assert traj.accuracy <= bound.value + 1e-12, (name, traj.accuracy, bound.value)


def test_simulate_is_reproducible_byte_for_byte(small, tmp_path) -> None:
    a = simulate(small, "enachi", 12, 7, tmp_path / "a", plot=False)
    b = simulate(small, "enachi", 12, 7, tmp_path / "b", plot=False)
    c = simulate(small, "enachi", 12, 8, tmp_path / "c", plot=False)
    assert a[0].read_bytes() == b[0].read_bytes()
    assert a[0].read_bytes() != c[0].read_bytes()
    summary = json.loads(a[1].read_text())
    assert summary["frames"] == 12 and 0 <= summary["accuracy"] <= 1
    seen = []
    files = simulate(small, "device-only", 3, 0, tmp_path / "d", lambda i, n: seen.append((i, n)))
    assert [p.name for p in files] == ["trajectory.csv", "summary.json", "trajectory.png"]
    assert seen == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(InputError, match="unknown policy"):
        simulate(small, "nope", 3, 0, tmp_path / "e")


def test_simulate_command_writes_the_trajectory(tmp_path, monkeypatch, capsys) -> None:
    import sys

    from optsplit.cli import main

    out = tmp_path / "sim"
    monkeypatch.setattr(sys, "argv", ["optsplit", "simulate", str(SMALL), "--frames", "5", "-o", str(out)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0 and "wrote" in capsys.readouterr().out
    assert (out / "trajectory.csv").read_text().count("\n") > 5 and (out / "summary.json").exists()
