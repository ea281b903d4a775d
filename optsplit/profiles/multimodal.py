"""Multimodal DNNs as DAG profiles: one encoder branch per modality, joined at a fusion layer.

Every branch is a published encoder traced block by block with the conventions of
optsplit.profiles.tracer (CNNs) and optsplit.profiles.transformer (attention): FLOPs =
2 × multiply-accumulates, output bytes = elements × 4. Layer names carry the branch prefix
(``img.``, ``aud.``, ``lidar.``, ``txt.``; ``fuse.`` and ``head.`` after the join); each
branch's first layer consumes ``input:<modality>``; the fusion layer names the last layer of
every branch; the other layers consume the previous one. Each modality records the size of
its input tensor and the raw sample a sensor node would send.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from optsplit.errors import InputError
from optsplit.instance.dag import INPUT_PREFIX, input_name, resolved_inputs
from optsplit.instance.limits import DEFAULT_LIMITS
from optsplit.instance.loader import (
    dump_document,
    profile_from_dict,
    profile_to_dict,
    read_document,
    validate,
)
from optsplit.instance.model import Layer, Profile
from optsplit.profiles.architectures import BY_NAME, Builder
from optsplit.profiles.pointcloud import build_pointnet
from optsplit.profiles.tracer import BYTES_PER_ELEMENT, Tracer
from optsplit.profiles.transformer import BERT_SMALL, TokenTracer, build_bert

CONVENTIONS = (
    "Derived analytically (optsplit.profiles.multimodal): FLOPs = 2 x multiply-accumulates of "
    "convolutions, linear layers and attention products + one per pooling window element and per "
    "element of residual and embedding additions; batch-norm, LayerNorm, ReLU/GELU, softmax and "
    "bias additions not counted; output_bytes = elements x 4 (float32); input_bytes = sum of the "
    "modalities' input tensors. A layer consumes the layers named in its `inputs` (default: the "
    "previous layer); `input:<modality>` is a model input."
)


@dataclass(frozen=True)
class Modality:
    """A model input: its tensor size (bytes) and the raw sample a sensor sends (bits)."""

    name: str
    input_bytes: float
    sensor_bits: float | None = None
    description: str = ""


@dataclass(frozen=True)
class Branch:
    """One modality's encoder: its layers (the first consumes the modality) and their source."""

    modality: Modality
    layers: tuple[Layer, ...]
    source: str

    @property
    def output(self) -> str:
        return self.layers[-1].name


@dataclass(frozen=True)
class MultimodalModel:
    """A DAG profile with its modality table."""

    profile: Profile
    modalities: tuple[Modality, ...]

    @property
    def name(self) -> str:
        return self.profile.name

    def depends_on(self) -> dict[str, set[str]]:
        """Layer name → the modalities whose input it (transitively) consumes."""
        seen: dict[str, set[str]] = {}
        for layer, names in zip(self.profile.layers, resolved_inputs(self.profile)):
            seen[layer.name] = set().union(
                *({n[len(INPUT_PREFIX) :]} if n.startswith(INPUT_PREFIX) else seen[n] for n in names)
            )
        return seen

    def branch(self, modality: str) -> tuple[str, ...]:
        """The encoder layers of ``modality``: those that depend on it alone, in file order."""
        return tuple(name for name, mods in self.depends_on().items() if mods == {modality})

    def fusion(self) -> str:
        """The first layer that depends on every modality (where the branches join)."""
        everything = {m.name for m in self.modalities}
        return next(name for name, mods in self.depends_on().items() if mods == everything)


# --- branches ---------------------------------------------------------------------------

IMAGE_SIDE = 224
RESNET_WIDTH = {"resnet18": 512, "resnet50": 2048}


def image_branch(arch: str = "resnet18", pooled: bool = True) -> Branch:
    """ResNet trunk (He et al. 2016) on a 224×224 RGB frame: conv1, pool1, the residual blocks,
    then a global average pool to one vector when ``pooled`` (else the 7×7 grid is the output)."""
    t = Tracer(3, IMAGE_SIDE, IMAGE_SIDE)
    BY_NAME[arch].build(t)
    trunk = t.layers[:-1]  # drop the ImageNet classifier ("fc")
    width = RESNET_WIDTH[arch]
    if trunk[-1].output_bytes != width * 7 * 7 * BYTES_PER_ELEMENT:
        raise ValueError(f"{arch} trunk does not end in a {width}x7x7 tensor")
    layers = [replace(layer, name=f"img.{layer.name}") for layer in trunk]
    if pooled:
        layers.append(Tracer(width, 7, 7).global_pool().cut("img.avgpool"))
    pixels = 3 * IMAGE_SIDE * IMAGE_SIDE
    modality = Modality(
        "image",
        float(pixels * BYTES_PER_ELEMENT),
        float(pixels * 8),
        "one 224x224 RGB camera frame: float32 tensor 3x224x224; sensor sends 8-bit RGB",
    )
    title = {"resnet18": "ResNet-18", "resnet50": "ResNet-50"}[arch]
    head = "global average pool to a vector" if pooled else f"the {width}x7x7 grid as output"
    source = (
        f"Image: {title} (He et al. 2016, torchvision layout) without its ImageNet classifier, "
        f"residual blocks as layers, {head}."
    )
    return Branch(modality, tuple(_entry(layers, "image")), source)


# VGGish (Hershey et al. 2017, "CNN architectures for large-scale audio classification";
# model definition tensorflow/models research/audioset/vggish): 0.96 s of 16 kHz audio as a
# 96-frame x 64-band log-mel patch; 3x3 convolutions (stride 1, SAME padding, bias, ReLU),
# 2x2 max-pools; flatten 512x6x4, FC 4096, 4096, then the 128-d embedding (no activation).
VGGISH_FRAMES, VGGISH_BANDS = 96, 64
VGGISH_SAMPLES = 15600  # 0.975 s at 16 kHz: 96 hops of 10 ms plus one 25 ms window


def build_vggish(t: Builder, prefix: str = "") -> None:
    """VGGish up to its 128-d embedding, one layer per convolution, pool and FC layer."""
    for group, (width, convs) in enumerate(((64, 1), (128, 1), (256, 2), (512, 2)), 1):
        for i in range(1, convs + 1):
            suffix = f"_{i}" if convs > 1 else ""
            t.conv(width, 3, 1, 1, bias=True, bn=False).cut(f"{prefix}conv{group}{suffix}")
        t.pool(2, 2).cut(f"{prefix}pool{group}")
    t.linear(4096).cut(f"{prefix}fc1_1")
    t.linear(4096).cut(f"{prefix}fc1_2")
    t.linear(128, act=False).cut(f"{prefix}fc2")


def audio_branch() -> Branch:
    """VGGish on one log-mel patch, ending in its 128-d embedding."""
    t = Tracer(1, VGGISH_FRAMES, VGGISH_BANDS)
    build_vggish(t, "aud.")
    modality = Modality(
        "audio",
        float(VGGISH_FRAMES * VGGISH_BANDS * BYTES_PER_ELEMENT),
        float(VGGISH_SAMPLES * 16),
        "0.975 s of 16 kHz mono audio: float32 96x64 log-mel patch; sensor sends 16-bit PCM",
    )
    source = (
        "Audio: VGGish (Hershey et al. 2017; tensorflow/models audioset/vggish) on a 96x64 log-mel "
        "patch: conv 64, pool, conv 128, pool, 2 x conv 256, pool, 2 x conv 512, pool (3x3 convs, "
        "2x2 pools), FC 4096, 4096, 128-d embedding."
    )
    return Branch(modality, tuple(_entry(t.layers, "audio")), source)


LIDAR_POINTS = 16384
LIDAR_FEATURES = 4  # x, y, z, reflectance


def lidar_branch(points: int = LIDAR_POINTS) -> Branch:
    """PointNet (Qi et al. 2017) on a LiDAR sweep of ``points`` points, to its 1024-d global feature."""
    t = Tracer(LIDAR_FEATURES, points, 1)
    build_pointnet(t, "lidar.")
    size = points * LIDAR_FEATURES * BYTES_PER_ELEMENT
    modality = Modality(
        "lidar",
        float(size),
        float(size * 8),
        f"one LiDAR sweep of {points} points (x, y, z, reflectance) as float32, KITTI's point format",
    )
    source = (
        f"LiDAR: PointNet classification trunk (Qi et al. 2017; charlesq34/pointnet) on {points} "
        "points x 4 features: input T-Net and 4x4 transform, shared MLP 64, 64, feature T-Net and "
        "64x64 transform, shared MLP 64, 128, 1024 with max-pool to the 1024-d global feature; "
        "T-Net = shared MLP 64, 128, 1024, max-pool, FC 512, 256, CxC; the transforms cost 2*C^2 "
        "per point."
    )
    return Branch(modality, tuple(_entry(t.layers, "lidar")), source)


TEXT_TOKENS = 128  # max_seq_length of BERT's fine-tuning scripts (google-research/bert)


def text_branch(tokens: int = TEXT_TOKENS, pooled: bool = True) -> Branch:
    """BERT-Small (Turc et al. 2019: 4 layers, width 512, 8 heads, FFN 2048) on ``tokens``
    WordPiece ids; ends in the pooled [CLS] vector when ``pooled``, else in all token states."""
    t = TokenTracer(tokens, 1)
    build_bert(t, BERT_SMALL, "txt.", pooler=pooled)
    modality = Modality(
        "text",
        float(tokens * BYTES_PER_ELEMENT),
        float(tokens * 16),
        f"{tokens} WordPiece token ids: int32 tensor; sensor sends 16-bit ids (vocabulary 30522)",
    )
    end = "pooler ([CLS], dense 512 + tanh)" if pooled else f"all {tokens} token states as output"
    source = (
        f"Text: BERT-Small (Turc et al. 2019; BERT of Devlin et al. 2019 with L=4, H=512, A=8, "
        f"FFN 2048, vocabulary 30522, 512 positions) on {tokens} tokens: embeddings, 4 encoder "
        f"layers (8Ld^2 + 4L^2d + 4Ldf + 2Ld FLOPs each), {end}."
    )
    return Branch(modality, tuple(_entry(t.layers, "text")), source)


def _entry(layers: Sequence[Layer], modality: str) -> list[Layer]:
    """The branch's layers with the first one consuming the modality's input."""
    return [replace(layers[0], inputs=(input_name(modality),)), *layers[1:]]


# --- assembled models -------------------------------------------------------------------


def _assemble(
    name: str, title: str, branches: Sequence[Branch], fusion: list[Layer], how: str
) -> MultimodalModel:
    """Branches in order, then the fusion layer (consuming every branch's output) and the head."""
    fusion[0] = replace(fusion[0], inputs=tuple(b.output for b in branches))
    layers = tuple(layer for b in branches for layer in b.layers) + tuple(fusion)
    modalities = tuple(b.modality for b in branches)
    derivation = " ".join([CONVENTIONS, *(b.source for b in branches), how])
    profile = Profile(name, sum(m.input_bytes for m in modalities), layers, title, derivation)
    return MultimodalModel(profile, modalities)


AUDIOSET_CLASSES = 527  # AudioSet ontology classes (Gemmeke et al. 2017)
YT8M_CLASSES = 3862  # YouTube-8M 2018 vocabulary (Abu-El-Haija et al. 2016, 2018 release)
VQA_ANSWERS = 3129  # VQA v2 answer set of Anderson et al. 2018 (bottom-up top-down)


def audio_visual() -> MultimodalModel:
    """Audio-visual event classification: ResNet-18 frame + VGGish audio, concatenation + MLP."""
    img, aud = image_branch("resnet18"), audio_branch()
    t = Tracer(512 + 128, 1, 1)
    t.linear(512).cut("fuse.fc1")
    t.linear(AUDIOSET_CLASSES, act=False).cut("head.fc2")
    how = (
        "Fusion (late, by concatenation; widths our choice): fuse.fc1 = concat(512 + 128) -> FC 512 "
        f"+ ReLU; head.fc2 = FC {AUDIOSET_CLASSES} (AudioSet classes)."
    )
    return _assemble(
        "audio_visual",
        "Audio-visual classification: ResNet-18 + VGGish, late fusion",
        [img, aud],
        t.layers,
        how,
    )


def camera_lidar() -> MultimodalModel:
    """3-D box estimation from camera + LiDAR in the way of PointFusion's global fusion."""
    img, pts = image_branch("resnet18"), lidar_branch()
    t = Tracer(512 + 1024, 1, 1)
    t.linear(512).cut("fuse.fc1")
    t.linear(128).cut("head.fc2")
    t.linear(128).cut("head.fc3")
    t.linear(8 * 3, act=False).cut("head.box")
    how = (
        "Fusion: global fusion as in PointFusion (Xu, Anguelov, Jain 2018: image CNN feature and "
        "PointNet global feature concatenated, an MLP regresses the 8 box corners); PointFusion used "
        "ResNet-50 on object crops, here ResNet-18 on the frame and the whole sweep; MLP widths "
        "our choice: fuse.fc1 = concat(512 + 1024) -> FC 512, head FC 128, 128, 24 (8 corners x 3)."
    )
    return _assemble(
        "camera_lidar",
        "Camera + LiDAR 3-D box estimation: ResNet-18 + PointNet, global fusion",
        [img, pts],
        t.layers,
        how,
    )


def image_text() -> MultimodalModel:
    """Visual question answering: ResNet-50 grid features + BERT-Small, joint transformer layers."""
    img, txt = image_branch("resnet50", pooled=False), text_branch(pooled=False)
    d = BERT_SMALL.width
    t = TokenTracer(7 * 7, RESNET_WIDTH["resnet50"])
    t.linear(d).concat(TEXT_TOKENS).cut("fuse.embed")
    for i in range(2):
        t.encoder_layer(BERT_SMALL.heads, BERT_SMALL.ffn).cut(f"fuse.layer{i}")
    t.first_token().linear(d).linear(VQA_ANSWERS).cut("head.answer")
    how = (
        "Fusion (single-stream, in the manner of VisualBERT / Pixel-BERT; depth our choice): "
        f"fuse.embed projects the 49 grid cells 2048 -> {d} and appends the {TEXT_TOKENS} text "
        f"token states (177 tokens); fuse.layer0-1 = two BERT-Small encoder layers over them; "
        f"head.answer = [CLS] -> dense {d} (tanh) -> FC {VQA_ANSWERS} (VQA v2 answers)."
    )
    return _assemble(
        "image_text",
        "Image + text VQA: ResNet-50 grid + BERT-Small, joint transformer",
        [img, txt],
        t.layers,
        how,
    )


def audio_visual_text() -> MultimodalModel:
    """Video classification from a frame, its soundtrack and its title: three branches, late fusion."""
    img, aud, txt = image_branch("resnet18"), audio_branch(), text_branch()
    t = Tracer(512 + 128 + BERT_SMALL.width, 1, 1)
    t.linear(1024).cut("fuse.fc1")
    t.linear(YT8M_CLASSES, act=False).cut("head.fc2")
    how = (
        "Fusion (late, by concatenation; widths our choice): fuse.fc1 = concat(512 + 128 + 512) -> "
        f"FC 1024 + ReLU; head.fc2 = FC {YT8M_CLASSES} (YouTube-8M 2018 classes)."
    )
    return _assemble(
        "audio_visual_text",
        "Video classification: ResNet-18 frame + VGGish audio + BERT-Small title, late fusion",
        [img, aud, txt],
        t.layers,
        how,
    )


MODELS: dict[str, Callable[[], MultimodalModel]] = {
    "audio_visual": audio_visual,
    "camera_lidar": camera_lidar,
    "image_text": image_text,
    "audio_visual_text": audio_visual_text,
}


# --- files ------------------------------------------------------------------------------


# What the instance schema must add for DAG profiles (the loader does not read them yet):
# `inputs` on a layer, a `modalities` table on a profile.
def model_to_dict(model: MultimodalModel) -> dict[str, Any]:
    """The file form: a profile document with a `modalities` table and `inputs` where not default."""
    doc = profile_to_dict(model.profile)
    for raw, layer in zip(doc["layers"], model.profile.layers):
        if layer.inputs:
            raw["inputs"] = list(layer.inputs)
    layers = doc.pop("layers")
    doc["modalities"] = [
        {
            "name": m.name,
            "input_bytes": m.input_bytes,
            **({"sensor_bits": m.sensor_bits} if m.sensor_bits is not None else {}),
            **({"description": m.description} if m.description else {}),
        }
        for m in model.modalities
    ]
    doc["layers"] = layers
    return doc


def model_from_dict(doc: dict[str, Any], source: str = "<dict>") -> MultimodalModel:
    """Validate a multimodal profile document and build the model."""
    if "modalities" not in doc:
        raise InputError("missing required field 'modalities'", source=source, path="(top level)")
    validate(doc, source, DEFAULT_LIMITS, "profile")
    profile = profile_from_dict(doc, source)  # checks the layer graph against the modalities
    modalities = tuple(
        Modality(
            str(m["name"]),
            float(m["input_bytes"]),
            float(m["sensor_bits"]) if "sensor_bits" in m else None,
            str(m.get("description", "")),
        )
        for m in doc["modalities"]
    )
    total = sum(m.input_bytes for m in modalities)
    if profile.input_bytes != total:
        raise InputError(
            f"input_bytes {profile.input_bytes:g} differs from the sum of the modalities' "
            f"input_bytes {total:g}",
            source=source,
            path="input_bytes",
        )
    return MultimodalModel(profile, modalities)


def load_model(path: str | Path) -> MultimodalModel:
    """Load and validate a multimodal profile file (.toml, .json, .yaml)."""
    path = Path(path)
    return model_from_dict(read_document(path), str(path))


def write_models(directory: str | Path, suffix: str = ".toml") -> list[Path]:
    """Write every assembled model as ``NAME.toml`` (or another suffix) into ``directory``."""
    out = []
    for name, build in MODELS.items():
        path = Path(directory) / f"{name}{suffix}"
        dump_document(model_to_dict(build()), path)
        out.append(path)
    return out
