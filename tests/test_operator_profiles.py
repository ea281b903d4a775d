"""Operator-level DAG profiles: totals against torchvision's published figures, structure against
the counts Intra-DP logged, files current and loadable, times calibrated, PyTorch agreeing."""

from __future__ import annotations

import math
from dataclasses import replace

import jsonschema
import numpy as np
import pytest
from conftest import INSTANCES

from optsplit.errors import InputError
from optsplit.instance import load_profile, schema
from optsplit.instance.loader import dump_document
from optsplit.instance.model import TimeStat
from optsplit.profiles.halo import Window
from optsplit.profiles.operators import (
    BARRIER,
    DEVICE,
    HOST,
    INPUT,
    NETWORKS,
    SAME_FAMILY,
    SERVER,
    SETUP_TIMES,
    WINDOWED,
    GraphBuilder,
    Operator,
    OperatorGraph,
    calibrate,
    effective_speeds,
    graph_from_dict,
    graph_to_dict,
    operator_times,
    read_graph,
    scale_times,
    total_time,
    write_graph,
)

FILES = INSTANCES / "profiles" / "operators"

# torchvision's model table: parameters (M) and multiply-accumulates (its "GFLOPS" column, G),
# both given to two decimals, so the figures must agree to half a unit of the last digit.
PUBLISHED = {
    "vgg19_bn": (143.68, 19.63),
    "resnet152": (60.19, 11.51),
    "densenet121": (7.98, 2.83),
    "mobilenet_v2": (3.50, 0.30),
    "convnext_tiny": (28.59, 4.46),
    "convnext_large": (197.77, 34.36),
}
# Local / barrier operators the Intra-DP authors' profiler found (their logs; one per torch call).
INTRA_DP_COUNTS = {
    "vgg19_bn": (53, 9),
    "resnet152": (512, 3),
    "densenet121": (428, 3),
    "convnext_large": (340, 6),
}


@pytest.fixture(scope="module")
def graphs() -> dict[str, OperatorGraph]:
    return {name: build() for name, build in NETWORKS.items()}


# ---------------------------------------------------------------- totals and counts


@pytest.mark.parametrize("name", list(NETWORKS))
def test_totals_match_torchvision(graphs, name: str) -> None:
    g = graphs[name]
    params, gmacs = PUBLISHED[name]
    assert g.params() / 1e6 == pytest.approx(params, abs=0.005)
    assert g.macs() / 1e9 == pytest.approx(gmacs, abs=0.005)
    assert g.input_bytes == 3 * 224 * 224 * 4
    assert g.operators[-1].out_shape == (1000,) and g.operators[-1].kind == "linear"


def test_exact_parameter_counts(graphs) -> None:
    # torchvision's exact counts (sum of numel over parameters)
    exact = {"vgg19_bn": 143_678_248, "resnet152": 60_192_808, "densenet121": 7_978_856}
    exact |= {"mobilenet_v2": 3_504_872, "convnext_tiny": 28_589_128, "convnext_large": 197_767_336}
    assert {name: int(g.params()) for name, g in graphs.items()} == exact


@pytest.mark.parametrize("name", list(INTRA_DP_COUNTS))
def test_local_and_barrier_counts_match_intra_dp(graphs, name: str) -> None:
    local = int(graphs[name].local().sum())
    assert (local, len(graphs[name].operators) - local) == INTRA_DP_COUNTS[name]


def test_convnext_tiny_counts(graphs) -> None:
    # 18 blocks x 9 calls + stem (conv + 3) + 3 downsamplers (3 + conv); head: pool, 3, flatten, fc
    g = graphs["convnext_tiny"]
    assert (int(g.local().sum()), len(g.operators)) == (18 * 9 + 4 + 3 * 4, 18 * 9 + 4 + 3 * 4 + 6)


# ---------------------------------------------------------------- structure


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_operator_is_consistent(graphs, name: str) -> None:
    g = graphs[name]
    for op in g.operators:
        assert op.output_bytes == math.prod(op.out_shape) * 4
        assert op.windowed == (op.kind in WINDOWED)
        if op.kind in BARRIER or len(op.out_shape) == 1 or op.out_shape[1] == 1:
            assert op.split_dim is None, op.name
        else:
            assert op.split_dim == "H", op.name
        if op.windowed:  # the output rows follow from the input rows by g(L)
            w = Window(op.kernel, op.stride, op.padding, op.dilation)
            c_in, h_in, w_in = g.shape(op.inputs[0])
            assert op.out_shape[1] == int(w.out_length(h_in)) and op.out_shape[2] == int(w.out_length(w_in))
        if op.kind == "conv":
            c_in = g.shape(op.inputs[0])[0]
            macs = c_in // op.groups * op.kernel**2 * math.prod(op.out_shape)
            assert op.flops == 2 * macs
        assert len(op.inputs) == (2 if op.kind == "add" else len(op.inputs) if op.kind == "concat" else 1)
    src, dst = g.edges()
    assert len(src) == sum(len(op.inputs) for op in g.operators)
    assert np.all(src < dst)  # topological order
    succ = g.successors()
    for j, preds in enumerate(g.predecessors()):
        for i in preds:
            assert i == -1 or j in succ[i]


def test_hand_checked_shapes(graphs) -> None:
    r = {op.name: op for op in graphs["resnet152"].operators}
    assert r["conv1"].out_shape == (64, 112, 112) and r["maxpool"].out_shape == (64, 56, 56)
    assert r["layer2.0.conv2"].stride == 2 and r["layer2.0.conv2"].out_shape == (128, 28, 28)
    assert r["layer4.2.relu3"].out_shape == (2048, 7, 7)
    assert r["layer3.5.add"].inputs == ("layer3.5.bn3", "layer3.4.relu3")
    assert r["layer3.0.add"].inputs == ("layer3.0.bn3", "layer3.0.downsample.1")
    assert sum(op.kind == "add" for op in r.values()) == 50
    d = {op.name: op for op in graphs["densenet121"].operators}
    # block 1: 64 + 6 x 32 = 256 channels; transitions halve; block 4 ends at 512 + 16 x 32 = 1024
    assert d["features.denseblock1.cat"].out_shape == (256, 56, 56)
    assert d["features.transition1.pool"].out_shape == (128, 28, 28)
    assert d["features.transition3.pool"].out_shape == (512, 7, 7)
    assert d["features.norm5"].out_shape == (1024, 7, 7)
    assert len(d["features.denseblock3.denselayer7.cat"].inputs) == 7  # block input + 6 new maps
    assert len(d["features.denseblock4.cat"].inputs) == 17
    m = {op.name: op for op in graphs["mobilenet_v2"].operators}
    assert sum(op.kind == "add" for op in m.values()) == 10
    assert m["features.2.conv.1.0"].groups == 96 and m["features.2.conv.1.0"].out_shape == (96, 56, 56)
    assert m["features.18.2"].out_shape == (1280, 7, 7)
    c = {op.name: op for op in graphs["convnext_tiny"].operators}
    assert c["features.0.0"].out_shape == (96, 56, 56) and c["features.0.0"].stride == 4
    assert c["features.5.8.block.3"].out_shape == (1536, 14, 14)  # 4 x 384 at stage 3
    assert c["features.5.8.block.3"].kind == "channel_linear" and c["features.5.8.block.3"].split_dim == "H"
    v = {op.name: op for op in graphs["vgg19_bn"].operators}
    assert v["features.52"].kind == "maxpool" and v["features.52"].out_shape == (512, 7, 7)
    assert v["classifier.0"].params == 25088 * 4096 + 4096


def test_to_profile_keeps_the_dag(graphs) -> None:
    g = graphs["resnet152"]
    p = g.to_profile()
    assert p.depth == len(g.operators) and p.input_bytes == g.input_bytes
    layers = {layer.name: layer for layer in p.layers}
    assert layers["layer1.0.downsample.0"].inputs == ("maxpool",)  # not the previous operator
    assert layers["layer1.0.add"].inputs == ("layer1.0.bn3", "layer1.0.downsample.1")
    assert layers["layer1.0.conv2"].inputs == ()  # chain default: the previous layer
    assert sum(bool(layer.inputs) for layer in p.layers) == 50 + 4  # adds and downsample branches
    assert np.array_equal(p.flops(), g.flops())
    b = GraphBuilder("bad", (3, 8, 8))
    b.conv("a", INPUT, 4, 3, 1, 1)
    b.conv("b", INPUT, 4, 3, 1, 1)
    with pytest.raises(ValueError, match="reads the input"):
        b.graph("two readers of the input").to_profile()


def test_graph_rejects_bad_descriptions() -> None:
    op = Operator("a", "relu", (INPUT,), (3, 8, 8), 0.0, 768.0, split_dim="H")
    with pytest.raises(ValueError, match="twice"):
        OperatorGraph("g", (3, 8, 8), (op, op))
    with pytest.raises(ValueError, match="unknown kind"):
        OperatorGraph("g", (3, 8, 8), (replace(op, kind="softmax"),))
    with pytest.raises(ValueError, match="before it is computed"):
        OperatorGraph("g", (3, 8, 8), (replace(op, inputs=("b",)), replace(op, name="b")))
    with pytest.raises(ValueError, match="split_dim"):
        OperatorGraph("g", (3, 8, 8), (replace(op, split_dim="W"),))
    with pytest.raises(ValueError, match="kernel"):
        OperatorGraph("g", (3, 8, 8), (replace(op, kind="conv"),))
    with pytest.raises(ValueError, match="uneven"):
        b = GraphBuilder("g", (3, 10, 10))
        b.adaptive_avgpool("p", INPUT, 3)


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("name", list(NETWORKS))
def test_shipped_file_is_current(graphs, name: str) -> None:
    shipped = read_graph(FILES / f"{name}.json")
    built = graphs[name]
    assert [replace(op, time={}) for op in shipped.operators] == list(built.operators)
    assert shipped.input_shape == built.input_shape and shipped.description == built.description
    assert shipped.derivation.startswith(built.derivation)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_shipped_file_fits_the_schema_and_loads_as_a_profile(name: str) -> None:
    full = schema()
    assert load_profile(FILES / f"{name}.json").depth == len(read_graph(FILES / f"{name}.json").operators)
    validator = jsonschema.Draft202012Validator({"$defs": full["$defs"], "$ref": "#/$defs/profile"})
    doc = graph_to_dict(read_graph(FILES / f"{name}.json"))
    errors = list(validator.iter_errors(doc))
    assert not errors, errors[0].message


def test_files_round_trip(tmp_path, graphs) -> None:
    g = scale_times(_with_host_times(graphs["densenet121"]), HOST, "x", 2.0, "test")
    write_graph(g, tmp_path / "d.json")
    assert read_graph(tmp_path / "d.json") == g
    dump_document(graph_to_dict(g), tmp_path / "d.toml")  # any profile format reads back
    assert read_graph(tmp_path / "d.toml") == g
    lines = (tmp_path / "d.json").read_text().splitlines()
    assert sum(line.startswith('  {"name"') for line in lines) == len(g.operators)  # one per line


def test_bad_file_names_the_layer(tmp_path) -> None:
    doc = graph_to_dict(NETWORKS["mobilenet_v2"]())
    del doc["layers"][3]["out_shape"]
    with pytest.raises(InputError, match=r"layers\[3\]"):
        graph_from_dict(doc, "m.json")
    doc = graph_to_dict(NETWORKS["mobilenet_v2"]())
    doc["layers"][5]["inputs"] = ["nowhere"]
    with pytest.raises(InputError, match="nowhere"):
        graph_from_dict(doc, "m.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InputError, match=r"broken\.json"):
        read_graph(tmp_path / "broken.json")


# ---------------------------------------------------------------- times


def _with_host_times(g: OperatorGraph, per_flop: float = 1e-10) -> OperatorGraph:
    ops = tuple(
        replace(op, time={HOST: TimeStat(1e-6 + per_flop * op.flops, 1e-12, 5)}) for op in g.operators
    )
    return replace(g, operators=ops)


def test_effective_speeds_reproduce_the_setup_ratios(graphs) -> None:
    ratios = {}
    for name, (device, server) in SETUP_TIMES.items():
        f_dev, f_srv = effective_speeds(graphs[name])
        assert graphs[name].flops().sum() / f_dev == pytest.approx(device)
        assert graphs[name].flops().sum() / f_srv == pytest.approx(server)
        ratios[name] = f_srv / f_dev
    assert ratios == pytest.approx(
        {"vgg19_bn": 18.33, "resnet152": 4.20, "densenet121": 4.52, "convnext_large": 23.52}, abs=0.01
    )


def test_operator_times_prefer_measurements(graphs) -> None:
    g = graphs["mobilenet_v2"]
    assert np.allclose(operator_times(g, DEVICE, speed=1e9), g.flops() / 1e9)
    with pytest.raises(ValueError, match="no time"):
        operator_times(g, DEVICE)
    timed = _with_host_times(g)
    assert np.allclose(operator_times(timed, HOST, speed=1e9), 1e-6 + 1e-10 * g.flops())


def test_calibrate_scales_to_the_setup(graphs) -> None:
    timed = {name: _with_host_times(g, 1e-10 * (i + 1)) for i, (name, g) in enumerate(graphs.items())}
    out = calibrate(timed)
    factors = {}
    for name, g in out.items():
        f_dev = g.machine[DEVICE]["factor"]
        factors[name] = (f_dev, g.machine[SERVER]["factor"])
        for op in g.operators:
            assert op.time[DEVICE].mean == pytest.approx(f_dev * op.time[HOST].mean)
            assert op.time[DEVICE].var == pytest.approx(f_dev**2 * op.time[HOST].var)
        if name in SETUP_TIMES:
            assert total_time(g, DEVICE) == pytest.approx(SETUP_TIMES[name][0])
            assert total_time(g, SERVER) == pytest.approx(SETUP_TIMES[name][1])
    assert factors["convnext_tiny"] == factors[SAME_FAMILY["convnext_tiny"]]
    geo = np.exp(np.log([factors[n] for n in SETUP_TIMES]).mean(axis=0))
    assert factors["mobilenet_v2"] == pytest.approx(tuple(geo))
    with pytest.raises(ValueError, match="calibration needs"):
        calibrate({"mobilenet_v2": timed["mobilenet_v2"]})


@pytest.mark.parametrize("name", list(NETWORKS))
def test_shipped_times(name: str) -> None:
    g = read_graph(FILES / f"{name}.json")
    for op in g.operators:
        assert set(op.time) == {HOST, DEVICE, SERVER}
        assert op.time[HOST].mean > 0 and op.time[HOST].var >= 0 and op.time[HOST].samples >= 2
        assert op.time[DEVICE].mean == pytest.approx(g.machine[DEVICE]["factor"] * op.time[HOST].mean)
    if name in SETUP_TIMES:
        assert (total_time(g, DEVICE), total_time(g, SERVER)) == pytest.approx(SETUP_TIMES[name])
    assert g.machine[HOST]["repeats"] == g.operators[0].time[HOST].samples


# ---------------------------------------------------------------- PyTorch


@pytest.mark.parametrize("name", list(NETWORKS))
def test_pytorch_agrees_with_every_operator(graphs, name: str) -> None:
    pytest.importorskip("torch")
    from optsplit.profiles.operator_torch import check_graph

    check_graph(graphs[name])  # raises on any shape or parameter-count mismatch


def test_pytorch_check_catches_a_wrong_description(graphs) -> None:
    pytest.importorskip("torch")
    from optsplit.errors import OptsplitError
    from optsplit.profiles.operator_torch import check_graph

    g = graphs["mobilenet_v2"]
    j = next(i for i, op in enumerate(g.operators) if op.kind == "conv" and op.stride == 2)
    wrong = replace(g.operators[j], out_shape=(g.operators[j].out_shape[0], 56, 56))
    with pytest.raises(OptsplitError, match="PyTorch computes"):
        check_graph(replace(g, operators=(*g.operators[:j], wrong, *g.operators[j + 1 :])))
    bn = next(i for i, op in enumerate(g.operators) if op.kind == "bn")
    extra = replace(g.operators[bn], params=g.operators[bn].params + 1)
    with pytest.raises(OptsplitError, match="parameters"):
        check_graph(replace(g, operators=(*g.operators[:bn], extra, *g.operators[bn + 1 :])))
    # a layer norm outside ConvNeXt's channels-last stretch is refused
    b = GraphBuilder("ln", (4, 8, 8))
    b.unary("ln", INPUT, "layernorm")
    with pytest.raises(OptsplitError, match="cannot run"):
        check_graph(b.graph("layer norm on channels-first"))


def test_measure_operators_times_a_real_run(graphs) -> None:
    pytest.importorskip("torch")
    from optsplit.profiles.operator_torch import measure_operators

    g = measure_operators(graphs["mobilenet_v2"], "test-cpu", repeats=2, warmup=0)
    assert all(op.time["test-cpu"].mean > 0 and op.time["test-cpu"].samples == 2 for op in g.operators)
    assert g.machine["test-cpu"]["repeats"] == 2 and "test-cpu" in g.derivation
