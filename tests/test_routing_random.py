"""Property test: on random small networks, MILP, layered LP and Dijkstra agree to 1e-9
relative, and the evaluator agrees with each."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optsplit
from optsplit import Status


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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routing_docs())
def test_exact_methods_agree(doc: dict[str, Any]) -> None:
    inst = optsplit.from_dict(doc)
    results = {m: optsplit.solve(inst, "routing", m) for m in ("dijkstra", "lp", "milp")}
    statuses = {r.status for r in results.values()}
    assert len(statuses) == 1, {m: r.status for m, r in results.items()}
    if Status.INFEASIBLE in statuses:
        assert all(r.explanation for r in results.values())
        return
    assert statuses == {Status.OPTIMAL}
    reference = results["dijkstra"].objective
    for method, res in results.items():
        report = optsplit.check(inst, res, rel_tol=1e-9)
        assert report.ok, (method, report.messages())
        assert report.evaluation.objective == pytest.approx(reference, rel=1e-9, abs=1e-15)
