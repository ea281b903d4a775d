"""Monte Carlo check: chunked draws give counts that depend on the seed only, in bounded memory."""

from __future__ import annotations

import tracemalloc

import pytest
from conftest import INSTANCES

import optsplit
from optsplit.formulations.robust.simulate import BLOCK, simulate

N = 100_000


@pytest.fixture(scope="module")
def case():
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-3dev.toml")
    return inst, optsplit.solve(inst, "robust", "enumerate").plan


def test_counts_do_not_depend_on_the_chunk_size(case) -> None:
    inst, plan = case
    small, large = simulate(inst, plan, N, 7, chunk=1_000), simulate(inst, plan, N, 7, chunk=10_000)
    assert small.misses == large.misses
    assert sum(laws["two-point"] for laws in small.misses.values()) > 0  # something was counted
    assert simulate(inst, plan, N, 8, chunk=10_000).misses != small.misses  # and the seed matters
    for device, laws in small.misses.items():
        assert small.rates[device] == {law: n / N for law, n in laws.items()}


def test_a_partial_last_block_is_drawn_the_same_way(case) -> None:
    inst, plan = case
    samples = 5 * BLOCK + 37
    one = simulate(inst, plan, samples, 3, chunk=BLOCK)
    assert one.misses == simulate(inst, plan, samples, 3, chunk=100 * BLOCK).misses
    assert one.samples == samples


def test_memory_is_bounded_by_the_chunk(case) -> None:
    inst, plan = case
    peaks = {}
    for chunk in (10_000, N):
        tracemalloc.start()
        simulate(inst, plan, N, 1, chunk=chunk)
        peaks[chunk] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks[N] > 2 * N * 8  # two arrays of N draws at once
    assert peaks[10_000] < 0.25 * peaks[N]


def test_a_subset_of_laws_draws_the_same_streams(case) -> None:
    inst, plan = case
    every = simulate(inst, plan, 20_000, 5)
    gamma = simulate(inst, plan, 20_000, 5, laws=("gamma",))
    assert {d: {"gamma": laws["gamma"]} for d, laws in every.misses.items()} == gamma.misses


def test_bad_arguments_are_refused(case) -> None:
    inst, plan = case
    with pytest.raises(ValueError, match="samples"):
        simulate(inst, plan, 0)
    with pytest.raises(ValueError, match="unknown distribution"):
        simulate(inst, plan, 10, laws=("cauchy",))
