"""`optsplit profile`: PyTorch builds of the architectures match the analytic profiles, and
timing yields a loadable profile with mean and variance per block."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import INSTANCES

import optsplit
from optsplit.instance.loader import profile_to_dict
from optsplit.profiles.architectures import ARCHITECTURES, BY_NAME

torch = pytest.importorskip("torch")  # the optional extra; CI installs it


@pytest.mark.parametrize("name", ["alexnet", "resnet18", "mobilenet_v2"])
def test_measure_matches_the_analytic_profile(name: str) -> None:
    from optsplit.profiles.torch_profiler import measure

    measured = measure(BY_NAME[name], "test-cpu", repeats=3, warmup=1)  # raises on size mismatch
    analytic = ARCHITECTURES[name]()
    assert [layer.name for layer in measured.layers] == [layer.name for layer in analytic.layers]
    for got, want in zip(measured.layers, analytic.layers):
        assert got.output_bytes == want.output_bytes and got.flops == want.flops
        stat = got.time["test-cpu"]
        assert stat.mean > 0 and stat.var >= 0 and stat.samples == 3
    assert measured.machine["test-cpu"]["torch"] == torch.__version__
    cov = np.array(measured.covariance["test-cpu"])  # the loader's checks passed on it
    assert cov.shape == (measured.depth, measured.depth) and (cov == cov.T).all()
    assert np.diag(cov).tolist() == [layer.time["test-cpu"].var for layer in measured.layers]


def test_covariance_is_the_sample_covariance_of_the_runs() -> None:
    from optsplit.profiles.torch_profiler import sample_covariance, variance_ratio

    rng = np.random.default_rng(0)
    shared = rng.normal(size=(400, 1))  # one load swing slows every block of a run
    times = 1e-3 + 1e-4 * (shared + rng.normal(size=(400, 5)))
    cov = sample_covariance(times)
    np.testing.assert_allclose(cov, np.cov(times.T), rtol=1e-12)
    assert np.diag(cov) == pytest.approx(times.var(axis=0, ddof=1), rel=1e-12)
    # Var(sum) / sum of Var = (25 + 5) / (5 + 5) = 3 for this construction, 1 when independent
    assert variance_ratio(cov) == pytest.approx(3.0, rel=0.15)
    assert variance_ratio(sample_covariance(rng.normal(size=(4000, 5)))) == pytest.approx(1.0, abs=0.1)
    assert variance_ratio(cov) == pytest.approx(times.sum(axis=1).var(ddof=1) / np.trace(cov), rel=1e-9)


def test_parameter_count_of_torch_build_matches() -> None:
    from optsplit.profiles.torch_profiler import TorchBuilder

    builder = TorchBuilder(3)
    BY_NAME["resnet18"].build(builder)
    model = torch.nn.Sequential(*(m for _, m in builder.blocks))
    model(torch.zeros(1, 3, 224, 224))  # materialise lazy layers
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(layer.params for layer in ARCHITECTURES["resnet18"]().layers)


def test_cli_profile_writes_a_valid_file(monkeypatch, capsys, tmp_path) -> None:
    from optsplit.cli import main

    out = tmp_path / "alex.toml"
    monkeypatch.setattr(
        sys, "argv", ["optsplit", "profile", "alexnet", "-o", str(out), "--repeats", "2", "--warmup", "0"]
    )
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0
    profile = optsplit.load_profile(out)
    assert all("host-cpu" in layer.time for layer in profile.layers)
    assert len(profile.covariance["host-cpu"]) == profile.depth
    assert "variance of the chain =" in capsys.readouterr().out


@pytest.mark.parametrize(
    "path", sorted((INSTANCES / "profiles" / "measured").glob("*.toml")), ids=lambda p: p.stem
)
def test_shipped_measured_profiles_are_consistent(path) -> None:
    measured = optsplit.load_profile(path)
    analytic = profile_to_dict(ARCHITECTURES[measured.name]())
    assert [(x.name, x.flops, x.output_bytes) for x in measured.layers] == [
        (x["name"], x["flops"], x["output_bytes"]) for x in analytic["layers"]
    ]
    for layer in measured.layers:
        stat = layer.time["host-cpu"]
        assert stat.mean > 0 and stat.var > 0 and stat.samples >= 50
    cov = np.array(measured.covariance["host-cpu"])  # measured in the same runs
    ratio = measured.machine["host-cpu"]["chain_variance_ratio"]
    assert ratio == pytest.approx(cov.sum() / np.trace(cov), rel=1e-9) and ratio > 1
