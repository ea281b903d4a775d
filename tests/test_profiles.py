"""DNN profiles derived from architectures match published totals; shipped files are current."""

from __future__ import annotations

import pytest
from conftest import INSTANCES

import optsplit
from optsplit.instance.loader import profile_to_dict, read_document
from optsplit.profiles.architectures import ARCHITECTURES

# torchvision's model table: multiply-accumulates (its "GFLOPS" column) and parameters.
PUBLISHED = {
    "alexnet": (0.71, 61.10),
    "vgg16": (15.47, 138.36),
    "resnet18": (1.81, 11.69),
    "resnet50": (4.09, 25.56),
    "resnet152": (11.51, 60.19),
    "mobilenet_v2": (0.30, 3.50),
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_totals_match_published(name: str) -> None:
    profile = ARCHITECTURES[name]()
    gmac = sum(layer.flops for layer in profile.layers) / 2e9
    mparams = sum(layer.params for layer in profile.layers) / 1e6
    macs, params = PUBLISHED[name]
    assert gmac == pytest.approx(macs, rel=0.02)  # pooling and additions add under 2 %
    assert mparams == pytest.approx(params, rel=0.002)
    assert profile.input_bytes == 3 * 224 * 224 * 4
    assert profile.layers[-1].output_bytes == 1000 * 4


def test_known_tensor_sizes() -> None:
    alex = {layer.name: layer for layer in ARCHITECTURES["alexnet"]().layers}
    assert alex["conv1"].output_bytes == 64 * 55 * 55 * 4
    assert alex["pool5"].output_bytes == 256 * 6 * 6 * 4  # the classic cheap cut, 36 KiB
    assert len(ARCHITECTURES["resnet152"]().layers) == 53  # conv1, pool, 50 blocks, fc


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_shipped_profile_is_current(name: str) -> None:
    shipped = read_document(INSTANCES / "profiles" / f"{name}.toml")
    assert shipped == profile_to_dict(ARCHITECTURES[name]())


@pytest.mark.parametrize("path", sorted((INSTANCES / "routing").glob("*.toml")), ids=str)
def test_shipped_instances_solve(path) -> None:
    inst = optsplit.load(path)
    dij = optsplit.solve(inst, "routing", "dijkstra")
    lp = optsplit.solve(inst, "routing", "lp")
    assert dij.status is optsplit.Status.OPTIMAL
    assert lp.objective == pytest.approx(dij.objective, rel=1e-9)
    assert optsplit.check(inst, dij).ok and optsplit.check(inst, lp).ok
