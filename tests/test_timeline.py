"""The schedule engine: validation, earliest schedules, rate profiles, Gantt charts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from optsplit.errors import InputError
from optsplit.timeline import (
    CycleError,
    RateProfile,
    Timeline,
    TimelineBuilder,
    assign_lanes,
    completion_times,
    draw_gantt,
    earliest,
    sequences,
    slotted_packet_times,
    validate,
)
from optsplit.timeline.bench import measure, random_problem

MS = 1e-3


def two_cores() -> TimelineBuilder:
    b = TimelineBuilder()
    b.add_resource("core1", "compute")
    b.add_resource("core2", "compute")
    b.add_resource("radio", "link")
    return b


# --------------------------------------------------------------------------- validation


def test_overlap_on_an_exclusive_resource_is_named() -> None:
    b = two_cores()
    b.add_task("conv1", "core1", 2 * MS)
    b.add_task("conv2", "core1", 2 * MS)
    b.add_task("pool", "core1", 1 * MS)
    tl = b.build()
    report = validate(tl, [0.0, 1 * MS, 2 * MS])  # conv2 overlaps conv1; pool touches conv1's end
    assert not report.feasible
    assert report.counts == {"overlap": 2}  # conv2 while conv1 runs; pool while conv2 runs
    first = report.violations[0]
    assert first.kind == "overlap" and first.tasks == ("conv1", "conv2")
    assert first.message == "task 'conv1' [0 s, 2 ms] and task 'conv2' [1 ms, 3 ms] overlap on 'core1'"
    assert report.violations[1].tasks == ("conv2", "pool")
    # Back to back (touching) is fine, on the same resource and in any listing order.
    assert validate(tl, [0.0, 3 * MS, 2 * MS]).feasible


def test_start_before_input_arrival_is_named_in_user_terms() -> None:
    b = two_cores()
    b.add_task("chunk2 of lidar", "radio", 1.35 * MS)
    b.add_task("conv3@core2", "core2", 1 * MS)
    b.add_edge("chunk2 of lidar", "conv3@core2")
    report = validate(b.build(), {"chunk2 of lidar": 0.0, "conv3@core2": 1.2 * MS})
    assert report.counts == {"arrival": 1}
    assert report.violations[0].message == (
        "task 'conv3@core2' starts at 1.2 ms, before its input 'chunk2 of lidar' has arrived at 1.35 ms "
        "(150 µs early)"
    )


def test_start_before_predecessor_and_lag_is_rejected() -> None:
    b = two_cores()
    b.add_resource("core3")
    b.add_task("a", "core1", 1.0)
    b.add_task("b", "core2", 1.0)
    b.add_task("c", "core3", 1.0)
    b.add_edge("a", "b", lag=0.5)  # e.g. a NoC transfer between cores
    b.add_edge("a", "c")
    tl = b.build()
    report = validate(tl, [0.0, 1.4, 0.9])
    assert report.counts == {"precedence": 2}
    messages = report.messages()
    assert messages[0] == (
        "task 'b' starts at 1.4 s, before its predecessor 'a' has finished (at 1 s) and the lag of "
        "500 ms has passed, at 1.5 s (100 ms early)"
    )
    assert (
        messages[1]
        == "task 'c' starts at 900 ms, before its predecessor 'a' has finished at 1 s (100 ms early)"
    )
    assert validate(tl, [0.0, 1.5, 2.5]).feasible


def test_start_before_release_and_finish_after_deadline_are_rejected() -> None:
    b = two_cores()
    b.add_task("head", "core1", 1.0, release=2.0)
    b.add_transfer("packets", "radio", 2000, RateProfile.constant(1e3), deadline=3.0)
    tl = b.build()
    report = validate(tl, [1.5, 1.5])
    assert report.counts == {"release": 1, "deadline": 1}
    assert report.messages() == [
        "task 'head' starts at 1.5 s, before its release time 2 s (500 ms early)",
        "transfer 'packets' finishes at 3.5 s, after its deadline 3 s (500 ms late)",
    ]
    assert validate(tl, [2.0, 1.0]).feasible
    with pytest.raises(InputError, match=r"tasks\[2\]\.deadline: must be ≥ 0 \(inf for none\), got nan"):
        b.add_task("tail", "core2", 1.0, deadline=math.nan)


def test_capacity_of_a_cumulative_resource() -> None:
    b = TimelineBuilder()
    b.add_resource("rbs", "link", capacity=4)
    b.add_task("m1", "rbs", 2.0, demand=2)
    b.add_task("m2", "rbs", 2.0, demand=2)
    b.add_task("m3", "rbs", 1.0, demand=1)
    tl = b.build()
    assert validate(tl, [0.0, 0.0, 2.0]).feasible  # 4 of 4 units, then m3 alone
    report = validate(tl, [0.0, 0.0, 1.0])
    assert report.counts == {"capacity": 1}
    v = report.violations[0]
    assert v.tasks == ("m1", "m2", "m3")
    assert v.message == (
        "'rbs' (capacity 4) has 5 units in use at 1 s when transfer 'm3' starts: 'm1' ×2, 'm2' ×2, 'm3'"
    )


def test_valid_schedule_figures_equal_hand_computation() -> None:
    b = TimelineBuilder()
    b.add_resource("cpu", "compute", busy_power=2.0, idle_power=0.5)
    b.add_resource("link", "link", busy_power=1.0)
    b.add_resource("pool", "compute", capacity=2, busy_power=0.1, idle_power=0.05)
    b.add_tasks(["a", "b"], "cpu", [2.0, 1.0])
    b.add_task("x", "link", 1.0)
    b.add_tasks(["p1", "p2"], "pool", [1.0, 3.0], demand=[2, 1])
    b.add_edges(["a", "x"], ["x", "b"])
    tl = b.build()
    report = validate(tl, {"a": 0.0, "x": 2.0, "b": 3.0, "p1": 0.0, "p2": 1.0})
    assert report.feasible and report.messages() == []
    assert report.makespan == 4.0
    assert report.busy == {"cpu": 3.0, "link": 1.0, "pool": 5.0}
    assert report.idle == {"cpu": 1.0, "link": 3.0, "pool": 3.0}
    # cpu 2·3 + 0.5·1; link 1·1; pool 0.1·5 + 0.05·3
    assert report.energy_by_resource == pytest.approx({"cpu": 6.5, "link": 1.0, "pool": 0.65})
    assert report.energy == pytest.approx(8.15)
    assert list(report.finish) == [2.0, 4.0, 3.0, 1.0, 4.0]


def test_tolerance_forgives_rounding_only() -> None:
    b = two_cores()
    b.add_task("a", "core1", 1.0)
    b.add_task("b", "core1", 1.0)
    tl = b.build()
    assert validate(tl, [0.0, 1.0 - 1e-9]).feasible  # within PLAN_RELATIVE × 2 s
    assert not validate(tl, [0.0, 1.0 - 1e-9], tol=0.0).feasible
    assert not validate(tl, [0.0, 1.0 - 1e-4]).feasible


def test_named_violations_are_capped_and_counted() -> None:
    b = two_cores()
    b.add_tasks([f"t{i}" for i in range(30)], "core1", 1.0)
    report = validate(b.build(), np.zeros(30), max_named=5)
    assert report.counts == {"overlap": 29}
    assert len(report.violations) == 5
    assert report.messages()[-1] == "… and 24 more overlap violations"


def test_transfer_at_a_rate_profile_and_one_that_never_completes() -> None:
    radio = RateProfile.slots([1000, 0, 3000], 1 * MS)  # nothing after 3 ms
    b = two_cores()
    b.add_resource("radio2", "link")
    b.add_transfer("features", "radio", 3000, radio)
    b.add_transfer("late", "radio2", 3000, radio)
    b.add_task("tail", "core1", 1 * MS)
    b.add_edge("late", "tail")
    tl = b.build()
    report = validate(tl, [0.0, 2.5 * MS, 5 * MS])
    # 1000 bits in slot 0, none in slot 1, 2000 more at 3 Mbit/s: 2 ms + 2000/3e6 s.
    assert report.finish[0] == pytest.approx(2 * MS + 2000 / 3e6)
    assert report.counts["incomplete"] == 1
    assert report.violations[0].message == (
        "transfer 'late' starting at 2.5 ms never completes: its rate profile delivers only 1500 of its "
        "3000 bits after that"
    )
    assert report.counts == {"incomplete": 1, "arrival": 1}
    assert report.messages()[-1] == "task 'tail' starts at 5 ms, but its input 'late' never arrives"
    assert report.makespan == math.inf and not report.feasible
    # And one never started: +inf is a violation, not an input error.
    assert validate(tl, [0.0, math.inf, math.inf]).counts["incomplete"] == 2


def test_bad_input_names_the_field() -> None:
    b = two_cores()
    b.add_tasks(["a", "b", "c"], "core1", 1.0)
    with pytest.raises(InputError, match=r"tasks\[4\]\.duration: must be finite and ≥ 0, got -1"):
        b.add_tasks(["d", "e"], "core1", [1.0, -1.0])
    with pytest.raises(InputError, match=r"tasks\[3\]\.release: must be finite and ≥ 0, got nan"):
        b.add_task("d", "core1", 1.0, release=math.nan)
    with pytest.raises(InputError, match=r"tasks\[3\]\.resource: unknown resource 'gpu' \(known: 'core1'"):
        b.add_task("d", "gpu", 1.0)
    with pytest.raises(InputError, match=r"tasks\[3\]\.demand: must be a whole number"):
        b.add_task("d", "core1", 1.0, demand=1.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"edges\[1\]\.lag: must be finite and ≥ 0, got -0.5"):
        b.add_edges(["a", "b"], ["b", "c"], [0.0, -0.5])
    with pytest.raises(InputError, match=r"resources\[3\]\.capacity"):
        b.add_resource("pool", capacity=0)
    with pytest.raises(InputError, match=r"resources\[3\]\.busy_power: must be finite"):
        b.add_resource("pool", busy_power=math.inf)
    b.add_task("d", "core1", 1.0, demand=2)
    with pytest.raises(InputError, match=r"tasks\[3\]\.demand: task 'd' demands 2 units of 'core1'"):
        b.build()

    b = two_cores()
    b.add_tasks(["a", "a"], "core1", 1.0)
    with pytest.raises(InputError, match=r"tasks\[1\]\.name: task 'a' is defined twice"):
        b.build()
    b = two_cores()
    b.add_task("a", "core1", 1.0)
    b.add_edge("a", "zz")
    with pytest.raises(InputError, match=r"edges\[0\]\.succ: unknown task 'zz'"):
        b.build()
    b = two_cores()
    b.add_task("a", "core1", 1.0)
    b.add_edge("a", "a")
    with pytest.raises(InputError, match="cannot precede itself"):
        b.build()

    b = two_cores()
    b.add_tasks(["a", "b"], "core1", 1.0)
    tl = b.build()
    with pytest.raises(InputError, match=r"starts\[1\]: start of task 'b' is nan"):
        validate(tl, [0.0, math.nan])
    with pytest.raises(InputError, match=r"starts: expected 2 start times"):
        validate(tl, [0.0])
    with pytest.raises(InputError, match=r"starts\['c'\]: unknown task"):
        validate(tl, {"a": 0.0, "b": 1.0, "c": 2.0})


def test_tasks_and_edges_by_name_index_or_mixed_and_an_empty_timeline(tmp_path) -> None:
    b = two_cores()
    added = b.add_tasks(["x", "y", "z"], ["core1", 1, np.int64(2)], [1.0, 2.0, 0.5])
    b.add_edges(["x", 1], [1, np.array([2])[0]])
    b.add_edges(np.array([0]), np.array([2]), lag=0.25)
    tl = b.build()
    assert added.tolist() == [0, 1, 2] and tl.resource.tolist() == [0, 1, 2]
    assert tl.pred.tolist() == [0, 1, 0] and tl.succ.tolist() == [1, 2, 2]
    assert earliest(tl).tolist() == [0.0, 1.0, 3.0]
    empty = TimelineBuilder().build()
    report = validate(empty, [])
    assert report.feasible and report.makespan == 0.0 and report.energy == 0.0
    assert earliest(empty).size == 0
    assert draw_gantt(empty, [], tmp_path / "empty.png").stat().st_size > 0


# --------------------------------------------------------------------------- earliest


def test_earliest_by_hand() -> None:
    b = two_cores()
    b.add_task("load", "radio", 2.0)
    b.add_task("a", "core1", 1.0, release=0.5)
    b.add_task("b", "core1", 3.0)
    b.add_task("c", "core2", 1.0)
    b.add_edge("load", "b")
    b.add_edge("a", "c", lag=0.25)
    b.add_edge("b", "c")
    tl = b.build()
    # load [0,2]; a [0.5,1.5]; b after a on core1 and after load: [2,5]; c after b: [5,6].
    assert list(earliest(tl)) == [0.0, 0.5, 2.0, 5.0]
    # b before a on core1: b [2,5], a [5,6], c ≥ a + 0.25 → 6.25.
    assert list(earliest(tl, {"core1": ["b", "a"]})) == [0.0, 5.0, 2.0, 6.25]


def test_earliest_on_a_cumulative_resource_is_fifo_list_scheduling() -> None:
    b = TimelineBuilder()
    b.add_resource("cores", capacity=2)
    b.add_tasks(["a", "b", "c", "d"], "cores", [3.0, 1.0, 1.0, 1.0], demand=[1, 1, 2, 1])
    tl = b.build()
    # a,b start at 0; c needs both units: after a ends (3); d starts no earlier than c (FIFO).
    assert list(earliest(tl)) == [0.0, 0.0, 3.0, 4.0]
    # c first [0,1]; a, b from 1; d (not before b) waits for a free unit: b ends at 2.
    assert list(earliest(tl, {"cores": ["c", "a", "b", "d"]})) == [1.0, 1.0, 0.0, 2.0]


def _brute_force(tl: Timeline, order: dict[str, list[int]]) -> np.ndarray:
    """Least fixed point of the schedule rules by repeated relaxation (Jacobi) from the releases."""
    n = tl.n_tasks
    seqs = [
        order.get(r.name, [i for i in range(n) if tl.resource[i] == k]) for k, r in enumerate(tl.resources)
    ]
    s = tl.release.copy()
    for _ in range(4 * n + 4):
        f = tl.finish(s)
        new = tl.release.copy()
        for p, q, lag in zip(tl.pred, tl.succ, tl.lag):
            new[q] = max(new[q], f[p] + lag)
        for k, seq in enumerate(seqs):
            cap = tl.capacity[k]
            for j, v in enumerate(seq):
                if j and cap == 1:
                    new[v] = max(new[v], f[seq[j - 1]])
                elif j:
                    new[v] = max(new[v], s[seq[j - 1]])
                    earlier = seq[:j]
                    for t in sorted({new[v], *(f[u] for u in earlier if f[u] > new[v])}):
                        end = t + tl.duration[v]
                        points = [t, *(s[u] for u in earlier if t < s[u] < end)]
                        use = max(sum(tl.demand[u] for u in earlier if s[u] <= x < f[u]) for x in points)
                        if use + tl.demand[v] <= cap:
                            new[v] = t
                            break
        if np.array_equal(new, s):
            return s
        s = new
    raise AssertionError("relaxation did not settle")


def _small_random(seed: int) -> tuple[Timeline, dict[str, list[int]]]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 10))
    b = TimelineBuilder()
    b.add_resource("core1")
    b.add_resource("link", "link")
    b.add_resource("pool", capacity=int(rng.integers(2, 4)))
    res = rng.integers(0, 3, size=n)
    demand = np.where(res == 2, rng.integers(1, 3, size=n), 1)
    b.add_tasks(
        [f"t{i}" for i in range(n)],
        res,
        rng.integers(0, 5, size=n) / 2,
        release=np.where(rng.random(n) < 0.3, rng.integers(0, 6, size=n) / 2, 0.0),
        demand=demand,
    )
    pairs = [(i, j) for i, j in itertools.combinations(range(n), 2) if rng.random() < 0.3]
    if pairs:
        p, q = zip(*pairs)
        b.add_edges(list(p), list(q), rng.integers(0, 3, size=len(pairs)) / 4)
    tl = b.build()
    order = {}
    for k, r in enumerate(tl.resources):
        if rng.random() < 0.7:
            order[r.name] = [int(i) for i in rng.permutation(np.flatnonzero(tl.resource == k))]
    return tl, order


def test_earliest_equals_brute_force_and_validates_or_names_a_real_cycle() -> None:
    cycles = solved = 0
    for seed in range(300):
        tl, order = _small_random(seed)
        try:
            starts = earliest(tl, order)
        except CycleError as err:
            cycles += 1
            links = set(zip(tl.pred.tolist(), tl.succ.tolist()))
            seq = sequences(tl, order).tolist()
            links |= {(a, c) for a, c in zip(seq, seq[1:]) if tl.resource[a] == tl.resource[c]}
            idx = [tl.task_index[name] for name in err.cycle]
            assert all((a, c) in links for a, c in zip(idx, [*idx[1:], idx[0]])), err.cycle
            continue
        solved += 1
        assert validate(tl, starts, tol=0.0).feasible, seed
        np.testing.assert_array_equal(starts, _brute_force(tl, order), err_msg=f"seed {seed}")
    assert cycles > 20 and solved > 150  # both branches exercised


def test_cycle_between_edges_and_order_is_named() -> None:
    b = two_cores()
    b.add_tasks(["a", "b"], "core1", 1.0)
    b.add_task("c", "core2", 1.0)
    b.add_edges(["a", "c"], ["c", "b"])
    tl = b.build()
    with pytest.raises(CycleError) as info:
        earliest(tl, {"core1": ["b", "a"]})
    assert set(info.value.cycle) == {"a", "b", "c"}
    assert "(next in the order of 'core1')" in str(info.value)
    assert str(info.value).startswith("order: the edges and resource orders form a cycle")


def test_bad_orders_are_input_errors() -> None:
    b = two_cores()
    b.add_tasks(["a", "b"], "core1", 1.0)
    b.add_task("c", "core2", 1.0)
    tl = b.build()
    with pytest.raises(InputError, match=r"order\['gpu'\]: unknown resource"):
        earliest(tl, {"gpu": []})
    with pytest.raises(InputError, match=r"order\['core1'\]\[1\]: task 'c' runs on 'core2'"):
        earliest(tl, {"core1": ["a", "c"]})
    with pytest.raises(InputError, match="task 'b' of 'core1' is missing"):
        earliest(tl, {"core1": ["a"]})
    with pytest.raises(InputError, match="listed twice"):
        earliest(tl, {"core1": ["a", "a"]})


def _intradp_recursion(segments: list[tuple[float, float, str | None, float]]) -> list[dict[str, float]]:
    """Intra-DP's timeline recursion (C.4) written out: device/server clocks, FIFO link clocks."""
    td = ts = ld = ls = 0.0
    clocks = []
    for dev, srv, direction, tx in segments:
        td += dev
        ts += srv
        row = {"dev": td, "srv": ts}
        if direction == "ds":
            ld = max(td, ld) + tx
            ts = max(ts, ld)
            row["link"] = ld
        elif direction == "sd":
            ls = max(ts, ls) + tx
            td = max(td, ls)
            row["link"] = ls
        row["dev_after"], row["srv_after"] = td, ts
        clocks.append(row)
    return clocks


def _intradp_timeline(segments: list[tuple[float, float, str | None, float]]) -> Timeline:
    b = TimelineBuilder()
    for name, kind in (
        ("device", "compute"),
        ("server", "compute"),
        ("uplink", "link"),
        ("downlink", "link"),
    ):
        b.add_resource(name, kind)
    for k, (dev, srv, direction, tx) in enumerate(segments):
        b.add_task(f"dev{k}", "device", dev)
        b.add_task(f"srv{k}", "server", srv)
        if direction == "ds":
            b.add_task(f"x{k}", "uplink", tx)
            b.add_edge(f"dev{k}", f"x{k}")
            if k + 1 < len(segments):
                b.add_edge(f"x{k}", f"srv{k + 1}")
        elif direction == "sd":
            b.add_task(f"x{k}", "downlink", tx)
            b.add_edge(f"srv{k}", f"x{k}")
            if k + 1 < len(segments):
                b.add_edge(f"x{k}", f"dev{k + 1}")
    return b.build()


def test_intradp_two_clock_recursion_is_earliest_on_four_resources() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        k = int(rng.integers(1, 12))
        segments = [
            (
                float(rng.uniform(0, 5)) * (rng.random() < 0.8),
                float(rng.uniform(0, 2)) * (rng.random() < 0.8),
                [None, "ds", "sd"][int(rng.integers(0, 3))],
                float(rng.uniform(0, 4)),
            )
            for _ in range(k)
        ]
        segments.append((float(rng.uniform(0, 1)), 0.0, None, 0.0))  # trailing device ops
        clocks = _intradp_recursion(segments)
        tl = _intradp_timeline(segments)
        report = validate(tl, earliest(tl))
        assert report.feasible
        at = tl.task_index
        for j, row in enumerate(clocks):
            assert report.finish[at[f"dev{j}"]] == pytest.approx(row["dev"], rel=1e-12)
            assert report.finish[at[f"srv{j}"]] == pytest.approx(row["srv"], rel=1e-12)
            if "link" in row:
                assert report.finish[at[f"x{j}"]] == pytest.approx(row["link"], rel=1e-12)
            if j + 1 < len(clocks):
                assert report.start[at[f"dev{j + 1}"]] == pytest.approx(row["dev_after"], rel=1e-12)
                assert report.start[at[f"srv{j + 1}"]] == pytest.approx(row["srv_after"], rel=1e-12)
        latency = clocks[-1]["dev_after"]  # the recursion's answer: T^d after the last segment
        assert report.finish[at[f"dev{len(segments) - 1}"]] == pytest.approx(latency, rel=1e-12)


def test_intradp_recursion_small_case_by_hand() -> None:
    # Device 2, send 3 up; server 1 meanwhile, then 2 after the upload; 1 back; device 1.
    segments = [(2.0, 1.0, "ds", 3.0), (0.0, 2.0, "sd", 1.0), (1.0, 0.0, None, 0.0)]
    tl = _intradp_timeline(segments)
    report = validate(tl, earliest(tl))
    at = tl.task_index
    assert report.finish[at["x0"]] == 5.0  # uplink: 2 + 3
    assert report.start[at["srv1"]] == 5.0 and report.finish[at["x1"]] == 8.0  # 5 + 2 + 1
    assert report.finish[at["dev2"]] == 9.0 == report.makespan
    assert _intradp_recursion(segments)[-1]["dev_after"] == 9.0


# --------------------------------------------------------------------------- rates


def test_rate_profile_by_hand() -> None:
    radio = RateProfile.slots([1000, 0, 3000], 1 * MS)
    assert radio.delivered([0.0, 0.5 * MS, 1.5 * MS, 2.5 * MS, 9.0]).tolist() == pytest.approx(
        [0, 500, 1000, 2500, 4000]
    )
    # 400-bit packets from 0.5 ms (500 bits already past): targets 900, 1300, 1700, ...
    times = completion_times(radio, [400] * 9, start=0.5 * MS)
    hand = [0.9 * MS, 2 * MS + 300 / 3e6, 2 * MS + 700 / 3e6, 2 * MS + 1100 / 3e6]
    assert times[:4] == pytest.approx(hand, rel=1e-12)
    assert times[7] == pytest.approx(3 * MS - 300 / 3e6, rel=1e-12) and times[8] == math.inf
    # Exactly at a breakpoint before a silent slot: the earliest moment, not the slot's end.
    assert radio.finish(0.0, 1000) == pytest.approx(1 * MS)
    rng = np.random.default_rng(3)
    s, bits = rng.uniform(0, 4 * MS, 200), rng.uniform(0, 4000, 200)
    vector = radio.finish(s, bits)
    assert [radio.finish_one(a, c) for a, c in zip(s, bits)] == pytest.approx(vector.tolist(), rel=1e-12)


def test_owin_chunk_arrivals_with_rb_reassignment() -> None:
    # Modality 2 gets 1 Mbit/s and finishes its 1000 bits at 1 ms; its blocks then go to
    # modality 1, whose rate rises from 2 to 3 Mbit/s. A_{m,j} = cumulative bits at the rate.
    m2 = RateProfile.constant(1e6)
    m2_arrivals = completion_times(m2, [500, 500])
    assert m2_arrivals.tolist() == pytest.approx([0.5 * MS, 1 * MS])
    m1 = RateProfile.steps([0.0, m2_arrivals[-1]], [2e6, 3e6])
    assert completion_times(m1, [2000, 2000, 2000]).tolist() == pytest.approx(
        [1 * MS, 1 * MS + 2000 / 3e6, 1 * MS + 4000 / 3e6]
    )


def test_slotted_packets_by_hand() -> None:
    # floor(bits/400) whole packets per slot: 2, 0, 7; each counts at the end of its slot.
    times = slotted_packet_times([1000, 0, 3000], 400, 10, 1 * MS)
    assert times.tolist() == pytest.approx([1 * MS] * 2 + [3 * MS] * 7 + [math.inf])
    later = slotted_packet_times([1000, 0, 3000], 400, 3, 1 * MS, first_slot=1)
    assert later.tolist() == pytest.approx([3 * MS] * 3)
    with pytest.raises(InputError, match=r"first_slot: must be ≥ 0"):
        slotted_packet_times([1000], 400, 1, 1 * MS, first_slot=-1)
    with pytest.raises(InputError, match=r"slot_bits\[1\]: must be finite and ≥ 0, got -5"):
        RateProfile.slots([1000, -5], 1 * MS)


def test_packet_chain_on_a_fifo_link_matches_the_rate_helper() -> None:
    radio = RateProfile.slots([1200, 300, 0, 2500, 800], 1 * MS, after=1e5)
    sizes = [300, 500, 250, 700, 400, 1000]
    b = TimelineBuilder()
    b.add_resource("device", "compute")
    b.add_resource("uplink", "link")
    b.add_resource("server", "compute")
    b.add_task("head", "device", 0.4 * MS)
    names = b.add_transfers([f"packet{k}" for k in range(len(sizes))], "uplink", sizes, radio)
    b.add_task("tail", "server", 1 * MS)
    b.add_edge("head", int(names[0]))
    b.add_edge(int(names[-1]), "tail")
    tl = b.build()
    report = validate(tl, earliest(tl))
    assert report.feasible
    expect = completion_times(radio, sizes, start=0.4 * MS)
    np.testing.assert_allclose(report.finish[names], expect, rtol=1e-12)
    # One transfer of all the bits finishes with the last packet.
    assert radio.finish(0.4 * MS, sum(sizes)) == pytest.approx(expect[-1], rel=1e-12)
    assert report.start[tl.task_index["tail"]] == pytest.approx(expect[-1], rel=1e-12)


# --------------------------------------------------------------------------- gantt


def test_lanes_are_few_and_never_overlap() -> None:
    rng = np.random.default_rng(5)
    for _ in range(40):
        n = int(rng.integers(1, 30))
        s = rng.integers(0, 20, size=n).astype(float)
        f = s + rng.integers(1, 6, size=n)
        lanes = assign_lanes(s, f)
        for lane in set(lanes.tolist()):
            mine = np.flatnonzero(lanes == lane)
            order = mine[np.lexsort((f[mine], s[mine]))]
            assert np.all(s[order][1:] >= f[order][:-1])
        # As many lanes as intervals overlap at the busiest instant (a start time).
        depth = max(int(np.sum((s <= t) & (t < f))) for t in s)
        assert lanes.max() + 1 == max(depth, 1)


def test_gantt_is_a_png(tmp_path) -> None:
    tl = random_problem(120, seed=2)
    out = draw_gantt(tl, earliest(tl), tmp_path / "plan.png", title="random")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    radio = RateProfile.slots([100], 1.0)
    b = TimelineBuilder()
    b.add_resource("link", "link")
    b.add_transfer("big", "link", 1000, radio)
    with pytest.raises(InputError, match="transfer 'big' never completes"):
        draw_gantt(b.build(), [0.0], tmp_path / "never.png")


# --------------------------------------------------------------------------- benchmark helper


def test_random_problem_is_seeded_and_its_earliest_schedule_validates() -> None:
    a, b = random_problem(500, seed=4), random_problem(500, seed=4)
    assert a.names == b.names and np.array_equal(a.pred, b.pred) and np.array_equal(a.duration, b.duration)
    assert not np.array_equal(a.pred, random_problem(500, seed=5).pred)
    assert len(a.profiles) == 1 and (a.profile >= 0).sum() > 20  # rate-profile transfers included
    row = measure(500, seed=4)
    assert row["feasible"] and row["tasks"] == 500 and row["edges"] == 1000
    assert row["makespan"] == validate(a, earliest(a)).makespan
