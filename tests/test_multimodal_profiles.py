"""Multimodal DAG profiles: branch totals against hand-computed and published figures,
PyTorch builds, DAG validation errors, assembled models and their files."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import INSTANCES

from optsplit.errors import InputError
from optsplit.instance.dag import descendants, input_name, is_chain, resolved_inputs, validate_dag
from optsplit.instance.loader import load_profile, read_document
from optsplit.instance.model import Layer, Profile
from optsplit.profiles.architectures import ARCHITECTURES
from optsplit.profiles.multimodal import (
    MODELS,
    audio_branch,
    build_vggish,
    image_branch,
    lidar_branch,
    load_model,
    model_from_dict,
    model_to_dict,
    text_branch,
    write_models,
)
from optsplit.profiles.pointcloud import build_pointnet
from optsplit.profiles.tracer import Tracer
from optsplit.profiles.transformer import BERT_BASE, BERT_SMALL, TokenTracer, build_bert

SHIPPED = INSTANCES / "profiles" / "multimodal"


def total(layers: Any, key: str) -> float:
    return sum(getattr(layer, key) for layer in layers)


# --- branches against hand-computed and published figures ---------------------------------


def test_vggish_by_hand() -> None:
    # (in, out, output height, output width) of the six 3x3 SAME convolutions of vggish_slim.py
    convs = [(1, 64, 96, 64), (64, 128, 48, 32), (128, 256, 24, 16), (256, 256, 24, 16)]
    convs += [(256, 512, 12, 8), (512, 512, 12, 8)]
    fcs = [(512 * 6 * 4, 4096), (4096, 4096), (4096, 128)]
    pooled = [64 * 48 * 32, 128 * 24 * 16, 256 * 12 * 8, 512 * 6 * 4]  # pool outputs, 4 ops each
    flops = sum(2 * i * 9 * o * h * w for i, o, h, w in convs) + sum(2 * i * o for i, o in fcs)
    flops += sum(4 * n for n in pooled)
    params = sum(i * 9 * o + o for i, o, _, _ in convs) + sum(i * o + o for i, o in fcs)
    branch = audio_branch()
    assert total(branch.layers, "flops") == flops
    assert total(branch.layers, "params") == params == 72_141_184  # the 72.1 M of the VGGish checkpoint
    assert branch.layers[-1].output_bytes == 128 * 4
    assert branch.modality.input_bytes == 96 * 64 * 4


def test_pointnet_matches_published() -> None:
    # Qi et al. 2017, Table 6 (1024 points, ModelNet40): PointNet 3.5 M parameters and 440 M
    # FLOPs per sample, PointNet (vanilla, no T-Nets) 0.8 M and 148 M; the paper's FLOPs are
    # multiply-accumulates. Ours also count max-pools, the transform products and the T-Nets'
    # FC layers (~2 % more for both).
    for transforms, (mparams, mmacs) in ((True, (3.5, 440)), (False, (0.8, 148))):
        t = Tracer(3, 1024, 1)
        build_pointnet(t, classes=40, transforms=transforms)
        assert total(t.layers, "params") / 1e6 == pytest.approx(mparams, rel=0.025)
        assert total(t.layers, "flops") / 2e6 == pytest.approx(mmacs, rel=0.03)


def _tnet(c: int, n: int) -> tuple[int, int]:
    """FLOPs and parameters of a T-Net on n points of c features, with its c×c product."""
    macs = n * (c * 64 + 64 * 128 + 128 * 1024) + 1024 * 512 + 512 * 256 + 256 * c * c
    flops = 2 * macs + 1024 * n + 2 * c * c * n  # + max-pool + the transform product
    shared = [(c, 64), (64, 128), (128, 1024), (1024, 512), (512, 256)]  # bias + batch-norm each
    params = sum(i * o + 3 * o for i, o in shared) + 256 * c * c + c * c
    return flops, params


def test_lidar_branch_by_hand() -> None:
    n, c = 16384, 4
    mlp = [(c, 64), (64, 64), (64, 64), (64, 128), (128, 1024)]
    flops = sum(2 * n * i * o for i, o in mlp) + 1024 * n  # shared MLP + the max-pool
    params = sum(i * o + 3 * o for i, o in mlp)  # weight, bias, batch-norm scale and shift
    for f, p in (_tnet(c, n), _tnet(64, n)):
        flops, params = flops + f, params + p
    branch = lidar_branch(n)
    assert total(branch.layers, "flops") == flops
    assert total(branch.layers, "params") == params
    assert branch.layers[-1].output_bytes == 1024 * 4
    assert branch.modality.input_bytes == n * c * 4


def test_bert_base_matches_devlin() -> None:
    # Devlin et al. 2019, §3: BERT-Base (L=12, H=768, A=12) has 110 M parameters.
    t = TokenTracer(128, 1)
    build_bert(t, BERT_BASE, pooler=True)
    assert total(t.layers, "params") / 1e6 == pytest.approx(110, rel=0.01)


def test_bert_small_by_hand() -> None:
    tokens, d, f, v, p = 128, 512, 2048, 30522, 512
    layer_flops = (
        4 * 2 * tokens * d * d + 2 * 2 * tokens * tokens * d + 2 * 2 * tokens * d * f + 2 * tokens * d
    )
    layer_params = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d
    embed_params = (v + p + 2) * d + 2 * d
    branch = text_branch(tokens, pooled=True)
    assert [layer.name for layer in branch.layers] == [
        "txt.embed",
        *(f"txt.layer{i}" for i in range(4)),
        "txt.pooler",
    ]
    assert total(branch.layers, "flops") == 2 * tokens * d + 4 * layer_flops + 2 * d * d
    assert total(branch.layers, "params") == embed_params + 4 * layer_params + d * d + d
    assert branch.layers[-2].output_bytes == tokens * d * 4 and branch.layers[-1].output_bytes == d * 4


def test_image_branches_reuse_resnet() -> None:
    full = ARCHITECTURES["resnet18"]()
    branch = image_branch("resnet18", pooled=True)
    assert [layer.name for layer in branch.layers[:-1]] == [f"img.{layer.name}" for layer in full.layers[:-1]]
    fc = full.layers[-1]  # global pool (512·7·7 ops) + the 512→1000 classifier
    assert fc.flops == 512 * 49 + 2 * 512 * 1000
    assert total(branch.layers, "flops") == total(full.layers, "flops") - 2 * 512 * 1000
    assert total(branch.layers, "params") == total(full.layers, "params") - (512 * 1000 + 1000)
    grid = image_branch("resnet50", pooled=False)
    assert grid.output == "img.layer4.2" and grid.layers[-1].output_bytes == 2048 * 7 * 7 * 4
    assert branch.layers[0].inputs == ("input:image",) and all(not x.inputs for x in branch.layers[1:])


def test_transform_rejects_a_wrong_matrix_size() -> None:
    with pytest.raises(ValueError, match="not 4²"):
        Tracer(4, 10, 1).transform(lambda t: t.conv(8, 1).global_pool())  # 8 values, not 16


# --- PyTorch builds (the optional extra) ---------------------------------------------------


def test_vggish_torch_build_matches() -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from optsplit.profiles.torch_profiler import TorchBuilder

    builder = TorchBuilder(1)
    build_vggish(builder)
    model = torch.nn.Sequential(*(m for _, m in builder.blocks))
    with FlopCounterMode(display=False) as counter:
        out = model(torch.zeros(1, 1, 96, 64))
    assert tuple(out.shape) == (1, 128)
    branch = audio_branch()
    assert sum(p.numel() for p in model.parameters()) == total(branch.layers, "params")
    pools = 4 * (64 * 48 * 32 + 128 * 24 * 16 + 256 * 12 * 8 + 512 * 6 * 4)  # torch counts no pooling
    assert counter.get_total_flops() == total(branch.layers, "flops") - pools


def test_bert_small_torch_build_matches() -> None:
    torch = pytest.importorskip("torch")
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    c, tokens = BERT_SMALL, 128
    d = c.width
    layer = torch.nn.TransformerEncoderLayer(
        d, c.heads, c.ffn, dropout=0.0, activation="gelu", batch_first=True
    )
    encoder = torch.nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
    embeddings = [torch.nn.Embedding(c.vocab, d), torch.nn.Embedding(c.positions, d)]
    embeddings += [torch.nn.Embedding(c.segments, d), torch.nn.LayerNorm(d)]
    bert = torch.nn.ModuleList([*embeddings, encoder, torch.nn.Linear(d, d)])
    x = torch.zeros(1, tokens, d, requires_grad=True)  # grad + math kernel: no fused path hides a matmul
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        encoder(x)
    branch = text_branch(tokens, pooled=True)
    assert sum(p.numel() for p in bert.parameters()) == total(branch.layers, "params")
    encoder_layers = [x for x in branch.layers if x.name.startswith("txt.layer")]
    residual_adds = c.layers * 2 * tokens * d  # counted by us, not by torch
    assert counter.get_total_flops() == total(encoder_layers, "flops") - residual_adds


# --- assembled models ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_models_are_dags_joining_every_branch(name: str) -> None:
    model = MODELS[name]()
    profile, names = model.profile, [m.name for m in model.modalities]
    validate_dag(profile, names)
    assert len(names) >= 2
    fusion = model.fusion()
    fusion_layer = next(layer for layer in profile.layers if layer.name == fusion)
    branches = {m: model.branch(m) for m in names}
    assert fusion_layer.inputs == tuple(branches[m][-1] for m in names)  # one input per branch
    for m in names:
        reached = descendants(profile, input_name(m))
        assert fusion in reached and profile.layers[-1].name in reached
        assert reached[: len(branches[m])] == list(branches[m])
    in_branch = [x for b in branches.values() for x in b]
    assert len(in_branch) == len(set(in_branch))  # branches are disjoint
    after = [layer.name for layer in profile.layers if layer.name not in in_branch]
    assert after[0] == fusion and after[1:] == descendants(profile, fusion)  # fusion, then the head
    assert profile.input_bytes == sum(m.input_bytes for m in model.modalities)
    for layer, inputs in zip(profile.layers, resolved_inputs(profile)):
        assert layer.flops > 0 and layer.output_bytes > 0 and inputs


def test_model_totals_are_branch_sums() -> None:
    model = MODELS["audio_visual"]()
    branches = total(image_branch().layers, "flops") + total(audio_branch().layers, "flops")
    fusion = 2 * 640 * 512 + 2 * 512 * 527
    assert total(model.profile.layers, "flops") == branches + fusion
    grid = MODELS["image_text"]()
    joint = {layer.name: layer for layer in grid.profile.layers}
    assert joint["fuse.embed"].output_bytes == (49 + 128) * 512 * 4
    n, d = 49 + 128, 512
    assert joint["fuse.layer0"].flops == 8 * n * d * d + 4 * n * n * d + 4 * n * d * 2048 + 2 * n * d


@pytest.mark.parametrize("suffix", [".toml", ".json", ".yaml"])
def test_written_files_round_trip(tmp_path: Path, suffix: str) -> None:
    for path in write_models(tmp_path, suffix):
        model = load_model(path)
        assert model == MODELS[path.stem]()


@pytest.mark.parametrize("name", list(MODELS))
def test_shipped_file_is_current(name: str) -> None:
    path = SHIPPED / f"{name}.toml"
    assert read_document(path) == model_to_dict(MODELS[name]())
    written = read_document(path)["layers"]
    assert sum("inputs" in raw for raw in written) == len(load_model(path).modalities) + 1


@pytest.mark.parametrize("path", sorted((INSTANCES / "profiles").glob("*.toml")), ids=lambda p: p.name)
def test_chain_profiles_are_valid_dags(path: Path) -> None:
    profile = load_profile(path)
    validate_dag(profile)
    assert is_chain(profile) and resolved_inputs(profile)[0] == ()
    layers = list(profile.layers)
    spelled = [layers[0], *(replace(x, inputs=(prev.name,)) for prev, x in zip(layers, layers[1:]))]
    assert is_chain(replace(profile, layers=tuple(spelled)))  # the default, written out
    skip = [*layers[:2], replace(layers[2], inputs=(layers[0].name,)), *layers[3:]]
    assert not is_chain(replace(profile, layers=tuple(skip)))


@pytest.mark.parametrize("name", list(MODELS))
def test_multimodal_models_are_not_chains(name: str) -> None:
    assert not is_chain(MODELS[name]().profile)


# --- DAG validation -------------------------------------------------------------------------


def _dag(*spec: tuple[str, tuple[str, ...]]) -> Profile:
    return Profile("t", 8.0, tuple(Layer(name, 1.0, 4.0, inputs=inputs) for name, inputs in spec))


FUSED = (("a", ("input:x",)), ("b", ()), ("c", ("input:y",)), ("d", ("b", "c")), ("e", ()))


def test_a_valid_dag_passes_and_resolves() -> None:
    profile = _dag(*FUSED)
    validate_dag(profile, ["x", "y"])
    assert resolved_inputs(profile) == (("input:x",), ("a",), ("input:y",), ("b", "c"), ("d",))
    assert descendants(profile, "input:y") == ["c", "d", "e"]


BAD: list[tuple[tuple[tuple[str, tuple[str, ...]], ...], list[str] | None, str, str]] = [
    ((("a", ("input:x",)), ("a", ())), ["x"], "layers[1].name", "duplicate layer name 'a' (also layers[0])"),
    ((("input:q", ()),), None, "layers[0].name", "reserved for model inputs"),
    ((("a", ("input:x",)), ("b", ("input:x",))), ["x", "x"], "modalities[1].name", "duplicate modality 'x'"),
    ((("a", ()), ("b", ())), ["x"], "layers[0].inputs", "the first layer must name its input"),
    ((("a", ("input:x",)), ("b", ("a", "a"))), ["x"], "layers[1].inputs[1]", "'a' is listed twice"),
    ((("a", ("input:z",)),), ["x"], "layers[0].inputs[0]", "unknown modality 'z'; declared: x"),
    ((("a", ("input:x",)),), None, "layers[0].inputs[0]", "the profile declares no modalities"),
    ((("a", ()), ("b", ("b",))), None, "layers[1].inputs[0]", "cannot consume its own output"),
    (
        (("alpha", ()), ("b", ("alhpa",))),
        None,
        "layers[1].inputs[0]",
        "unknown layer 'alhpa'; did you mean 'alpha'?",
    ),
    ((*FUSED[:3], ("d", ("b", "f")), ("e", ())), ["x", "y"], "layers[3].inputs[1]", "unknown layer 'f'"),
    (
        (("a", ()), ("b", ("c",)), ("c", ("a",)), ("d", ("b", "c"))),
        None,
        "layers[1].inputs[0]",
        "comes later",
    ),
    ((("a", ()), ("b", ("a", "c")), ("c", ())), None, "layers[1].inputs[1]", "cycle: b -> c -> b"),
    ((("a", ()), ("b", ("a",)), ("c", ("a",))), None, "layers[1]", "'b' is consumed by no layer"),
    ((("a", ("input:x",)), ("b", ())), ["x", "y"], "modalities[1].name", "modality 'y' feeds no layer"),
]


@pytest.mark.parametrize(("spec", "modalities", "path", "message"), BAD, ids=[b[3][:30] for b in BAD])
def test_dag_errors_name_the_field(
    spec: tuple[tuple[str, tuple[str, ...]], ...], modalities: list[str] | None, path: str, message: str
) -> None:
    with pytest.raises(InputError) as info:
        validate_dag(_dag(*spec), modalities, source="m.toml", at="job.profile")
    assert info.value.path == f"job.profile.{path}"
    assert message in info.value.detail and info.value.source == "m.toml"


# --- loading errors --------------------------------------------------------------------------


def _doc() -> dict[str, Any]:
    return model_to_dict(MODELS["audio_visual"]())


def _set(doc: dict[str, Any], where: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target = doc
    for key in where[:-1]:
        target = target[key]
    if value is KeyError:
        del target[where[-1]]
    else:
        target[where[-1]] = value
    return doc


LOAD_BAD = [
    (("modalities",), KeyError, "(top level)", "missing required field 'modalities'"),
    (("modalities", 0, "sensor_bits"), math.nan, "modalities[0].sensor_bits", "finite number"),
    (("modalities", 1, "name"), "a:b", "modalities[1].name", "does not match"),
    (("modalities", 0, "colour"), "red", "modalities[0]", "unknown field: 'colour'"),
    (("layers", 11, "inputs"), "input:audio", "layers[11].inputs", "expected array"),
    (("layers", 11, "inputs"), [], "layers[11].inputs", "should be non-empty"),
    (("layers", 3, "flops"), -1.0, "layers[3].flops", "expected a number >= 0"),
    (("layers", 24, "inputs", 1), "aud.fc3", "layers[24].inputs[1]", "did you mean 'aud.fc2'?"),
    (("input_bytes",), 1.0, "input_bytes", "differs from the sum of the modalities' input_bytes 626688"),
]


@pytest.mark.parametrize(("where", "value", "path", "message"), LOAD_BAD, ids=[b[2] for b in LOAD_BAD])
def test_load_errors_name_the_field(where: tuple[Any, ...], value: Any, path: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        model_from_dict(_set(_doc(), where, value), "av.toml")
    assert info.value.path == path and info.value.source == "av.toml"
    assert message in info.value.detail


def test_load_keeps_layer_order_and_defaults() -> None:
    doc = _doc()
    model = model_from_dict(doc)
    assert [layer.name for layer in model.profile.layers] == [raw["name"] for raw in doc["layers"]]
    assert model == MODELS["audio_visual"]()
