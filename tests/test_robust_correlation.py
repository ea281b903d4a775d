"""Correlated layer times in `robust`: the profile's covariance is validated, the model and the
evaluator use the variance of each prefix and suffix sum, and Monte Carlo draws per layer
with the measured correlation keep robust plans within ε while plans that ignore it do not."""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np
import pytest
from conftest import INSTANCES

import optsplit
from optsplit.errors import InputError
from optsplit.formulations.robust.correlation import prefix_variances, suffix_variances
from optsplit.formulations.robust.data import prepare
from optsplit.formulations.robust.evaluate import device_times
from optsplit.formulations.robust.simulate import PER_LAYER, SUMMED, simulate
from optsplit.instance.loader import profile_from_dict, profile_to_dict

LAYERS = 10
EPS = 0.1


def equicorrelated(sd: np.ndarray, rho: float) -> np.ndarray:
    """Covariance with stds ``sd`` and correlation ``rho`` between every pair."""
    corr = np.full((sd.size, sd.size), rho)
    np.fill_diagonal(corr, 1.0)
    return corr * np.outer(sd, sd)


def correlated_doc(rho: float, correlation: str = "measured", seed: int = 0) -> dict[str, Any]:
    """One device, ten layers with local std 30–50 % of the mean and pairwise correlation
    ``rho`` on the device; the uplink is so narrow that only all-local meets the deadline, so
    the clock is lowered until the chance constraint binds."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(0.002, 0.006, LAYERS)
    sd = means * rng.uniform(0.3, 0.5, LAYERS)
    cov = equicorrelated(sd, rho)
    profile = {
        "name": "chain",
        "input_bytes": 6e5,
        "covariance": {"dev": cov.tolist()},
        "layers": [
            {
                "name": f"L{j + 1}",
                "flops": 1e8,
                "output_bytes": 4e5,
                "time": {
                    "dev": {"mean": float(means[j]), "var": float(cov[j, j])},
                    "srv": {"mean": float(means[j] / 10), "var": 0.0},
                },
            }
            for j in range(LAYERS)
        ],
    }
    device = {
        "name": "d0",
        "profile": profile,
        "processor": "dev",
        "server_processor": "srv",
        "f_min": 2e8,
        "f_max": 1.9e9,
        "kappa": 7.3e-28,
        "tx_power": 0.2,
        "distance": 200.0,
        "deadline": float(means.sum() * 3.5),
        "epsilon": EPS,
        "correlation": correlation,
    }
    return {"name": "corr", "formulation": "robust", "robust": {"bandwidth": 10.0, "devices": [device]}}


def test_prefix_and_suffix_variances_are_block_sums() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 6))
    cov = a @ a.T
    var = np.diag(cov)
    pre, suf = prefix_variances(var, cov), suffix_variances(var, cov)
    for m in range(7):
        assert pre[m] == pytest.approx(cov[:m, :m].sum(), abs=1e-12)
        assert suf[m] == pytest.approx(cov[m:, m:].sum(), abs=1e-12)
    # without a covariance: the sums of variances, as before
    np.testing.assert_array_equal(prefix_variances(var, None), np.concatenate([[0], np.cumsum(var)]))
    np.testing.assert_array_equal(prefix_variances(var, np.diag(var)), prefix_variances(var, None))


@pytest.mark.parametrize("correlation", ["measured", "independent", "comonotone"])
def test_model_arrays_match_the_evaluator(correlation: str) -> None:
    doc = correlated_doc(0.6, correlation)
    inst = optsplit.from_dict(doc)
    data = prepare(inst).devices[0]
    dev = inst.section("robust").devices[0]
    sd = np.array([np.sqrt(x.time["dev"].var) for x in dev.profile.layers]) * dev.f_ref
    cov = {
        "measured": equicorrelated(sd, 0.6),
        "independent": np.diag(sd**2),
        "comonotone": np.outer(sd, sd),
    }[correlation]
    for m in range(LAYERS + 1):
        t = device_times(dev, m)
        assert data.s[m] ** 2 == pytest.approx(t.cycles_var, rel=1e-12, abs=1e-300)
        assert t.cycles_var == pytest.approx(cov[:m, :m].sum(), rel=1e-9, abs=1e-300)
        assert data.var_e[m] == pytest.approx(t.server_var, rel=1e-12, abs=1e-300)


def test_robust_plans_hold_under_correlated_draws_and_independent_ones_do_not() -> None:
    aware = optsplit.from_dict(correlated_doc(0.9))
    naive = optsplit.from_dict(correlated_doc(0.9, "independent"))
    plan_aware = optsplit.solve(aware, "robust", "enumerate").plan
    plan_naive = optsplit.solve(naive, "robust", "enumerate").plan
    assert plan_aware["devices"][0]["partition"] == plan_naive["devices"][0]["partition"] == LAYERS
    assert optsplit.check(aware, plan_aware).ok and optsplit.check(naive, plan_naive).ok
    assert not optsplit.check(aware, plan_naive).ok  # the evaluator sees the understated σ
    n = 40_000
    held = simulate(aware, plan_aware, n, seed=1)
    assert not held.broken()
    for law in PER_LAYER + SUMMED:
        assert held.rates["d0"][law] <= held.tolerance("d0")
    # the same plan under independent draws is far inside ε: the correlation is what binds
    assert simulate(naive, plan_aware, n, seed=1, laws=PER_LAYER).rates["d0"]["layers-gaussian"] < EPS / 5
    broken = simulate(aware, plan_naive, n, seed=1, laws=PER_LAYER).rates["d0"]
    assert broken["layers-gaussian"] > 1.3 * EPS  # σ understated 3x: 0.148 against 0.1
    assert simulate(naive, plan_naive, n, seed=1, laws=PER_LAYER).rates["d0"]["layers-gaussian"] < EPS


def test_comonotone_draws_break_a_plan_built_for_independent_layers() -> None:
    naive = optsplit.from_dict(correlated_doc(0.0, "independent"))
    worst = optsplit.from_dict(correlated_doc(0.0, "comonotone"))
    plan = optsplit.solve(naive, "robust", "enumerate").plan
    rates = simulate(worst, plan, 40_000, seed=2, laws=PER_LAYER).rates["d0"]
    assert min(rates.values()) > 1.3 * EPS  # 0.144 to 0.158
    safe = optsplit.solve(worst, "robust", "enumerate").plan
    assert not simulate(worst, safe, 40_000, seed=2).broken()


def test_per_layer_gaussian_draws_have_the_measured_covariance() -> None:
    from optsplit.formulations.robust.correlation import part_layers
    from optsplit.formulations.robust.simulate import layer_draws

    dev = optsplit.from_dict(correlated_doc(0.7)).section("robust").devices[0]
    mean, var, cov = part_layers(dev, LAYERS, True)
    draws = layer_draws(mean, var, cov)
    z = np.random.default_rng(0).standard_normal((200_000, draws.factor.shape[1])) @ draws.factor.T
    x = draws.mean + draws.sd * z
    assert np.cov(x, rowvar=False) == pytest.approx(cov, rel=0.03, abs=0.02 * cov.max())
    total = draws.total("gaussian", np.random.default_rng(1), 200_000)
    assert total.var() == pytest.approx(cov.sum(), rel=0.02)
    for law in ("gamma", "lognormal"):  # copula marginals keep each layer's mean
        drawn = draws.total(law, np.random.default_rng(2), 200_000)
        assert drawn.mean() == pytest.approx(mean.sum(), rel=0.01)


def _profile() -> dict[str, Any]:
    return copy.deepcopy(correlated_doc(0.5)["robust"]["devices"][0]["profile"])


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda c: c.pop(), "covariance.dev", "expected 10 rows"),
        (lambda c: c[3].pop(), "covariance.dev[3]", "expected 10 entries"),
        (lambda c: c[2].__setitem__(5, c[2][5] * 1.5), "covariance.dev[2][5]", "not symmetric"),
        (lambda c: c[4].__setitem__(4, c[4][4] * 2), "covariance.dev[4][4]", "differs from layers[4]"),
    ],
)
def test_bad_covariance_is_refused_with_its_field(change, path: str, words: str) -> None:
    doc = _profile()
    change(doc["covariance"]["dev"])
    with pytest.raises(InputError, match=re.escape(words)) as info:
        profile_from_dict(doc, "p.toml", "job.profile")
    assert info.value.path == f"job.profile.{path}" and info.value.source == "p.toml"


def test_a_covariance_that_is_not_psd_or_has_no_times_is_refused() -> None:
    doc = _profile()
    cov = np.array(doc["covariance"]["dev"])
    sd = np.sqrt(np.diag(cov))
    bad = equicorrelated(sd, 0.5)
    bad[0, 1] = bad[1, 0] = -0.99 * sd[0] * sd[1]  # with every other pair at +0.5: indefinite
    doc["covariance"]["dev"] = bad.tolist()
    with pytest.raises(InputError, match="not positive semidefinite") as info:
        profile_from_dict(doc, "p.toml")
    assert info.value.path == "covariance.dev"
    doc = _profile()
    doc["covariance"]["gpu"] = doc["covariance"]["dev"]
    with pytest.raises(InputError, match="layer 1 'L1' has no time for processor 'gpu'"):
        profile_from_dict(doc, "p.toml")


def test_a_covariance_survives_the_file_round_trip(tmp_path) -> None:
    from optsplit.instance.loader import dump_document

    doc = _profile()
    path = tmp_path / "p.toml"
    dump_document(doc, path)
    loaded = optsplit.load_profile(path)
    assert profile_to_dict(loaded)["covariance"] == doc["covariance"]
    assert loaded == profile_from_dict(doc)
    with pytest.raises(InputError, match="correlation") as info:
        bad = correlated_doc(0.5)
        bad["robust"]["devices"][0]["correlation"] = "some"
        optsplit.from_dict(bad)
    assert info.value.path == "robust.devices[0].correlation"


def test_shipped_instances_read_the_measured_covariance() -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-3dev.toml")
    dev = inst.section("robust").devices[0]
    data = prepare(inst).devices[0]
    scale = (dev.local_scale * dev.f_ref) ** 2
    cov = np.array(dev.profile.covariance[dev.processor]) * scale
    independent = sum(x.time[dev.processor].var for x in dev.profile.layers) * scale
    assert data.s[-1] ** 2 == pytest.approx(cov.sum(), rel=1e-9)
    assert data.s[-1] ** 2 > 2 * independent  # positively correlated blocks (3.65x measured)


def test_correlation_benchmark_case_and_report(tmp_path) -> None:
    from optsplit.formulations.robust.bench_correlation import SUITE

    case = next(c for c in SUITE.cases(True) if c.method == "measured")
    row = SUITE.execute(case)
    assert row["status"] == "optimal" and row["chain_ratio"] > 1
    assert row["viol_measured_layers"] <= row["epsilon"] + 3 * (row["epsilon"] / 20_000) ** 0.5
    row.update(group=case.group, instance=case.instance, method=case.method)
    (md,) = SUITE.report([{k: str(v) for k, v in row.items()}], tmp_path)
    assert "| measured |" in md.read_text()
