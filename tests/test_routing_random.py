"""Property tests: on random networks, MILP, layered LP and Dijkstra agree to EXACT_AGREEMENT
(relative), and the evaluator agrees with each; also on networks mixing magnitudes over
eight to ten decades, where costs divided by the largest one used to defeat the solvers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optsplit
from optsplit import Status
from optsplit.tolerances import EXACT_AGREEMENT


@st.composite
def routing_docs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 7))
    names = [f"v{i}" for i in range(n)]
    speed = st.one_of(st.just(0.0), st.floats(1e8, 1e12))
    nodes = [{"name": v, "speed": draw(speed)} for v in names]
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    links = [
        {
            "src": names[a],
            "dst": names[b],
            "rate": draw(st.floats(1e5, 1e10)),
            "delay": draw(st.floats(0, 0.02)),
            "duplex": draw(st.booleans()),
        }
        for a, b in chosen
    ]
    k = draw(st.integers(1, 5))
    layers = [
        {"name": f"L{i + 1}", "flops": draw(st.floats(0, 1e10)), "output_bytes": draw(st.floats(0, 1e6))}
        for i in range(k)
    ]
    return {
        "name": "random",
        "network": {"nodes": nodes, "links": links},
        "job": {
            "source": draw(st.sampled_from(names)),
            "destination": draw(st.sampled_from(names)),
            "profile": {"name": "p", "input_bytes": draw(st.floats(0, 1e6)), "layers": layers},
        },
    }


def decades(low: int, high: int) -> st.SearchStrategy[float]:
    """10**e for e uniform in [low, high]: every magnitude is as likely as any other."""
    return st.floats(low, high).map(lambda e: 10.0**e)


@st.composite
def wide_routing_docs(draw: st.DrawFn, max_nodes: int = 10, max_layers: int = 6) -> dict[str, Any]:
    """Rates 1e3-1e11 bit/s, FLOPs 1e3-1e12, speeds 1e6-1e13 FLOP/s, tensors 10 B-1 MB,
    one-way or duplex links, most without delay (the hardening issue's ranges). A one-way
    ring keeps every node reachable, and at least one node computes, so most instances
    have plans to compare."""
    n = draw(st.integers(3, max_nodes))
    names = [f"n{i}" for i in range(n)]
    speeds = [draw(st.one_of(st.just(0.0), decades(6, 13))) for _ in names]
    speeds[draw(st.integers(0, n - 1))] = draw(decades(6, 13))
    nodes = [{"name": v, "speed": c} for v, c in zip(names, speeds)]

    def link(src: int, dst: int, duplex: bool) -> dict[str, Any]:
        rate, delay = draw(decades(3, 11)), draw(st.one_of(st.just(0.0), decades(-6, -1)))
        return {"src": names[src], "dst": names[dst], "rate": rate, "delay": delay, "duplex": duplex}

    links = [link(i, (i + 1) % n, False) for i in range(n)]
    chords = [(a, b) for a in range(n) for b in range(a + 2, n) if (a, b) != (0, n - 1)]
    for a, b in draw(st.lists(st.sampled_from(chords), max_size=2 * n, unique=True)) if chords else []:
        way = draw(st.sampled_from(["forward", "backward", "duplex"]))
        links.append(link(b, a, False) if way == "backward" else link(a, b, way == "duplex"))
    k = draw(st.integers(1, max_layers))
    layers = [
        {"name": f"L{i + 1}", "flops": draw(decades(3, 12)), "output_bytes": draw(decades(1, 6))}
        for i in range(k)
    ]
    return {
        "name": "wide",
        "network": {"nodes": nodes, "links": links},
        "job": {
            "source": draw(st.sampled_from(names)),
            "destination": draw(st.sampled_from(names)),
            "profile": {"name": "p", "input_bytes": draw(decades(1, 6)), "layers": layers},
        },
    }


def assert_exact_methods_agree(doc: dict[str, Any]) -> None:
    inst = optsplit.from_dict(doc)
    results = {m: optsplit.solve(inst, "routing", m) for m in ("dijkstra", "lp", "milp")}
    statuses = {r.status for r in results.values()}
    assert len(statuses) == 1, {m: (r.status, r.explanation) for m, r in results.items()}
    if Status.INFEASIBLE in statuses:
        assert all(r.explanation for r in results.values())
        return
    assert statuses == {Status.OPTIMAL}
    reference = results["dijkstra"].objective
    for method, res in results.items():
        report = optsplit.check(inst, res, rel_tol=EXACT_AGREEMENT)
        assert report.ok, (method, report.messages())
        assert report.evaluation.objective == pytest.approx(reference, rel=EXACT_AGREEMENT, abs=1e-15)
        assert res.bound is not None and res.bound <= reference * (1 + EXACT_AGREEMENT)
    assert results["lp"].metrics["certified"] and results["milp"].metrics["certified"]


def seeded(examples: int) -> settings:
    """Derandomized (the examples follow from the test alone), no deadline: solver times vary."""
    return settings(
        derandomize=True, max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


@seeded(60)
@given(routing_docs())
def test_exact_methods_agree(doc: dict[str, Any]) -> None:
    assert_exact_methods_agree(doc)


@seeded(40)
@given(wide_routing_docs())
def test_exact_methods_agree_on_wide_magnitudes(doc: dict[str, Any]) -> None:
    assert_exact_methods_agree(doc)


@pytest.mark.slow
@seeded(400)
@given(wide_routing_docs(max_nodes=14, max_layers=10))
def test_exact_methods_agree_on_many_wide_magnitudes(doc: dict[str, Any]) -> None:
    assert_exact_methods_agree(doc)
