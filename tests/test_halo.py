"""Receptive-field arithmetic: hand-worked stacks, brute-force index propagation, PyTorch gradients."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optsplit.profiles.halo import (
    IDENTITY,
    Window,
    device_rows,
    exchange_rows,
    graph_rows_needed,
    receptive_field,
    slice_transfer,
    stack_input_rows,
    stack_lengths,
)
from optsplit.profiles.operators import INPUT, GraphBuilder, build_resnet152, build_vgg19_bn

CONV3 = Window(3, 1, 1)
STEM = [Window(7, 2, 3), Window(3, 2, 1)]  # ResNet: conv 7x7/2 pad 3, then max-pool 3x3/2 pad 1


def rows(windows, a, b, length):
    lo, hi = stack_input_rows(windows, a, b, length)
    return int(lo), int(hi)


# ---------------------------------------------------------------- hand-worked stacks


def test_three_3x3_convs_by_hand() -> None:
    # Each 3x3/1 pad-1 conv widens a range by one row per side: [a, b) <- [a - 1, b + 1).
    # Interior, 32 rows: out [10, 14) <- [9, 15) <- [8, 16) <- [7, 17): 4 rows need 4 + 6.
    assert rows([CONV3] * 3, 10, 14, 32) == (7, 17)
    # At the top border of 8 rows: out [2, 4) <- [1, 5) <- [0, 6) <- [0, 7) (row -1 is padding).
    assert rows([CONV3] * 3, 2, 4, 8) == (0, 7)
    # Bottom border: out [6, 8) <- [5, 8) <- [4, 8) <- [3, 8) (row 8 is padding).
    assert rows([CONV3] * 3, 6, 8, 8) == (3, 8)
    assert stack_lengths([CONV3] * 3, 8) == [8, 8, 8, 8]
    assert receptive_field([CONV3] * 3) == Window(7, 1, 3)


def test_resnet_stem_by_hand() -> None:
    # 224 -> conv: (224 + 6 - 7) // 2 + 1 = 112 -> pool: (112 + 2 - 3) // 2 + 1 = 56.
    assert stack_lengths(STEM, 224) == [224, 112, 56]
    # Device half, pool rows [0, 28): pool reads conv rows 2o - 1 .. 2o + 1 -> [0, 27·2 + 2) = [0, 56);
    # conv reads input rows 2o - 3 .. 2o + 3 -> [0, 55·2 + 4) = [0, 114).
    assert rows(STEM, 0, 28, 224) == (0, 114)
    # Server half, pool rows [28, 56): conv rows [55, 112) (111 + 1 clipped to 112);
    # input rows [55·2 - 3, 111·2 + 4) = [107, 226) clipped to [107, 224).
    assert rows(STEM, 28, 56, 224) == (107, 224)
    # Composed: stride 2·2 = 4, padding 3 + 2·1 = 5, span 1 + 6 + 2·2 = 11 (4o - 5 .. 4o + 5).
    assert receptive_field(STEM) == Window(11, 4, 5)
    assert rows(STEM, 10, 20, 224) == (4 * 10 - 5, 4 * 19 + 5 + 1)


def test_dilated_convs_by_hand() -> None:
    dil = Window(3, 1, 2, 2)  # taps o - 2, o, o + 2: span 5
    # Interior: out [5, 9) <- [3, 11) <- [1, 13); composed span 9, padding 4.
    assert rows([dil, dil], 5, 9, 16) == (1, 13)
    assert receptive_field([dil, dil]) == Window(9, 1, 4)
    # Top: rows 0, 1 read {-2, 0, 2} and {-1, 1, 3} -> [0, 4); rows 0..3 read up to 5 -> [0, 6).
    assert rows([dil, dil], 0, 2, 16) == (0, 6)


def test_dilation_skips_rows_at_the_border() -> None:
    # k 3, dilation 3, pad 3: row 1 reads {-2, 1, 4}, row 2 reads {-1, 2, 5}: rows {1, 2, 4, 5}.
    # The plain formula max(0, a·s - p) = 0 would ask for row 0, which neither reads.
    assert Window(3, 1, 3, 3).input_rows(1, 3, 10) == (1, 6)
    # Row 0 reads {-3, 0, 3}: now row 0 is needed.
    assert Window(3, 1, 3, 3).input_rows(0, 3, 10) == (0, 6)


def test_pooling_never_reads_the_odd_row() -> None:
    pool = Window(2, 2, 0)
    assert int(pool.out_length(7)) == 3
    assert pool.input_rows(2, 3, 7) == (4, 6)  # row 6 of 7 is dropped by 2x2/2 pooling
    # The conv before it still reads row 6 for its row 5: out [0, 3) <- conv [0, 6) <- [0, 7).
    assert rows([CONV3, pool], 0, 3, 7) == (0, 7)


def test_rows_for_n_outputs_and_the_intra_dp_formula() -> None:
    for w in (CONV3, Window(3, 2, 1), Window(7, 2, 3), Window(2, 2, 0), Window(3, 1, 2, 2), Window(1, 2, 0)):
        for n in range(1, 40):
            need = int(w.min_input_length(n))
            assert w.out_length(need) >= n and w.out_length(need - 1) < n  # smallest such length
            intra_dp = n * w.stride + w.kernel - 1 - 2 * w.padding  # their q(n), undilated
            if w.dilation == 1:
                assert intra_dp - need == w.stride - 1  # exact only at stride 1
            assert w.interior_rows(n) == (n - 1) * w.stride + w.span
    assert int(CONV3.min_input_length(0)) == 0


def test_empty_ranges_stay_empty() -> None:
    lo, hi = stack_input_rows([CONV3, Window(3, 2, 1)], [0, 3, 5], [0, 3, 4], 10)
    assert np.all(hi == lo)


# ---------------------------------------------------------------- brute force


def dependency(w: Window, length: int) -> np.ndarray:
    """reads[o, i]: output row o reads input row i (direct index propagation)."""
    out = int(w.out_length(length))
    reads = np.zeros((out, length), dtype=bool)
    for o in range(out):
        for j in range(w.kernel):
            i = o * w.stride - w.padding + j * w.dilation
            if 0 <= i < length:
                reads[o, i] = True
    return reads


def hull(mask: np.ndarray) -> tuple[int, int] | None:
    where = np.flatnonzero(mask)
    return (int(where[0]), int(where[-1]) + 1) if len(where) else None


def random_window(rng: np.random.Generator, dilated: bool) -> Window:
    k = int(rng.integers(1, 6))
    d = int(rng.integers(1, 4)) if dilated else 1
    p = int(rng.integers(0, d * (k - 1) + 2)) if dilated else int(rng.integers(0, k))
    return Window(k, int(rng.integers(1, 4)), p, d)


def test_single_window_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(400):
        w = random_window(rng, dilated=True)
        length = int(rng.integers(1, 20))
        reads = dependency(w, length)
        out = reads.shape[0]
        pairs = [(a, b) for a in range(out + 1) for b in range(a, out + 1)]
        if not pairs:
            continue
        a, b = np.array(pairs).T
        lo, hi = w.input_rows(a, b, length)  # all ranges at once
        for k, (x, y) in enumerate(pairs):
            want = hull(reads[x:y].any(axis=0))
            got = (int(lo[k]), int(hi[k]))
            assert (got if got[1] > got[0] else None) == want, (w, length, x, y)
            checked += 1
    assert checked > 10_000


def test_stacks_match_brute_force() -> None:
    """A tiled execution computes a contiguous range of every intermediate tensor, so the stack
    needs, level by level, the hull of what the level above reads. That is what stack_input_rows
    gives; the rows that truly influence the output lie inside it, and for undilated windows
    with padding < kernel they span it exactly."""
    rng = np.random.default_rng(2)
    stacks = 0
    for trial in range(300):
        dilated = trial % 2 == 0
        windows = [random_window(rng, dilated) for _ in range(int(rng.integers(1, 5)))]
        length = int(rng.integers(1, 40))
        lengths = stack_lengths(windows, length)
        if lengths[-1] < 1:
            continue
        reads = [dependency(w, n) for w, n in zip(windows, lengths)]
        influence = reads[-1]
        for r in reversed(reads[:-1]):
            influence = (influence.astype(int) @ r.astype(int)) > 0
        out = lengths[-1]
        for a, b in itertools.combinations(range(out + 1), 2):
            lo, hi = rows(windows, a, b, length)
            tile: tuple[int, int] | None = (a, b)
            for r in reversed(reads):
                tile = None if tile is None else hull(r[tile[0] : tile[1]].any(axis=0))
            assert ((lo, hi) if hi > lo else None) == tile
            truth = hull(influence[a:b].any(axis=0))
            if truth is not None:
                assert lo <= truth[0] and truth[1] <= hi
                if not dilated:
                    assert (lo, hi) == truth
        stacks += 1
    assert stacks >= 200


def test_receptive_field_agrees_inside_the_tensor() -> None:
    rng = np.random.default_rng(3)
    inside = 0
    for _ in range(200):
        windows = [random_window(rng, dilated=True) for _ in range(int(rng.integers(1, 4)))]
        field = receptive_field(windows)
        length = 400
        out = stack_lengths(windows, length)[-1]
        a = int(rng.integers(0, max(out // 2, 1)))
        b = a + int(rng.integers(1, 4))  # rows in the upper half of 400: far from the bottom
        lo = a * field.stride - field.padding
        hi = (b - 1) * field.stride - field.padding + field.span
        if lo < 0 or hi > length or b > out:
            continue  # a border: the composed window does not clip
        # away from the borders every level's first and last taps land inside: equal, dilated or not
        assert rows(windows, a, b, length) == (lo, hi)
        inside += 1
    assert inside >= 100


# ---------------------------------------------------------------- slices and exchanges


def test_slice_transfer_of_the_resnet_stem_by_hand() -> None:
    row_bytes = 3 * 224 * 4  # one input row: 3 channels x 224 columns x float32
    # The input is born on the device (x = 1); the stem runs half on each side (pool rows 28/28).
    t = slice_transfer(STEM, 224, row_bytes, 1.0, 0.5)
    # The server needs input rows [107, 224): 117 rows, 5 more than the plain half (112).
    assert (int(t.up_rows), int(t.down_rows), int(t.halo_rows)) == (117, 0, 5)
    assert int(t.up_bytes) == 117 * row_bytes
    # Same shares through an identity: nothing beyond the plain difference, nothing at all if equal.
    same = slice_transfer([IDENTITY], 56, 1, np.array([0.5, 1.0, 0.3]), np.array([0.5, 0.25, 0.3]))
    assert same.up_rows.tolist() == [0, 42, 0] and same.halo_rows.tolist() == [0, 0, 0]
    # Shares on a grid, vectorised: the halo of three 3x3 convs is 3 rows each way.
    x = np.linspace(0.0, 1.0, 11)
    grid = slice_transfer([CONV3] * 3, 56, 1, 1.0, x)
    plain = 56 - device_rows(x, 56)
    assert np.array_equal(grid.up_rows, np.where(plain > 0, np.minimum(plain + 3, 56), 0))


def test_exchange_both_ways_within_the_halo() -> None:
    # Device holds rows [0, 30) of 56, server [30, 56). The next stack (three 3x3 convs) runs
    # with the device computing [0, 28): it needs [0, 31), the server needs [25, 56).
    t = slice_transfer([CONV3] * 3, 56, 10, 30 / 56, 28 / 56)
    assert (int(t.up_rows), int(t.down_rows)) == (5, 1)  # rows 25..29 up, row 30 down
    up, down = exchange_rows(30, (np.int64(0), np.int64(31)), (np.int64(25), np.int64(56)))
    assert (int(up), int(down)) == (5, 1)
    # Nothing is needed by a side that computes nothing.
    assert int(slice_transfer([CONV3], 56, 1, 1.0, 1.0).up_rows) == 0
    assert int(slice_transfer([CONV3], 56, 1, 0.0, 0.0).down_rows) == 0


def test_device_rows_rounds_half_up() -> None:
    assert device_rows(np.array([0.0, 0.5, 0.7, 1.0]), 224).tolist() == [0, 112, 157, 224]
    assert device_rows(0.5, 7) == 4


# ---------------------------------------------------------------- through a DAG


def test_bottleneck_block_needs_the_3x3_halo() -> None:
    b = GraphBuilder("block", (64, 16, 16))
    y = b.conv("c1", INPUT, 16, 1)
    y = b.conv("c2", y, 16, 3, 1, 1)
    y = b.conv("c3", y, 64, 1)
    b.add_("add", y, INPUT)
    g = b.graph("one bottleneck")
    need = graph_rows_needed(g, {"add": (np.array([0, 4, 8]), np.array([4, 8, 16]))})
    # The identity branch needs [a, b); the conv branch [a - 1, b + 1): the input the hull.
    assert need[INPUT][0].tolist() == [0, 3, 7] and need[INPUT][1].tolist() == [5, 9, 16]
    assert need["c2"][0].tolist() == [0, 4, 8] and need["c1"][1].tolist() == [5, 9, 16]
    stopped = graph_rows_needed(g, {"add": (4, 8)}, stop=frozenset({"c2"}))
    assert (int(stopped["c2"][0]), int(stopped["c2"][1])) == (4, 8)
    assert int(stopped["c1"][1]) == int(stopped["c1"][0])  # an exchange supplies c2: c1 needs nothing
    assert (int(stopped[INPUT][0]), int(stopped[INPUT][1])) == (4, 8)  # only the identity branch


def test_first_resnet_block_and_barriers() -> None:
    g = build_resnet152()
    need = graph_rows_needed(g, {"layer1.0.relu3": (0, 28)})
    assert (int(need["maxpool"][0]), int(need["maxpool"][1])) == (0, 29)  # one 3x3 conv: +1 row
    # the stem as one window (stride 4, padding 5, span 11): pool rows [0, 29) read [0, 28·4 - 5 + 11)
    assert (int(need[INPUT][0]), int(need[INPUT][1])) == (0, 118)
    vgg = build_vgg19_bn()
    whole = graph_rows_needed(vgg, {"classifier.6": (0, 1)})
    assert (int(whole[INPUT][0]), int(whole[INPUT][1])) == (0, 224)  # a linear layer needs it all
    assert (int(whole["features.51"][0]), int(whole["features.51"][1])) == (0, 14)


# ---------------------------------------------------------------- PyTorch, as a third opinion


def test_rows_read_agree_with_pytorch_gradients() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    checked = 0
    for trial in range(60):
        windows = [random_window(rng, dilated=trial % 2 == 0) for _ in range(int(rng.integers(1, 4)))]
        length = int(rng.integers(8, 30))
        lengths = stack_lengths(windows, length)
        if min(lengths) < 2:
            continue
        convs = []
        for w in windows:
            conv = torch.nn.Conv2d(
                1, 1, (w.kernel, 1), (w.stride, 1), (w.padding, 0), (w.dilation, 1), bias=False
            )
            torch.nn.init.ones_(conv.weight)  # positive weights: a row is read iff its gradient > 0
            convs.append(conv.double())
        a, b = sorted(int(v) for v in rng.choice(lengths[-1] + 1, 2, replace=False))
        x = torch.ones(1, 1, length, 1, dtype=torch.float64, requires_grad=True)
        y = x
        for conv in convs:
            y = conv(y)
        assert y.shape[2] == lengths[-1]
        y[0, 0, a:b].sum().backward()
        truth = hull((x.grad[0, 0, :, 0] > 0).numpy())
        lo, hi = rows(windows, a, b, length)
        if trial % 2:  # undilated, padding < kernel: exactly the rows read
            assert ((lo, hi) if hi > lo else None) == truth
        elif truth is not None:  # dilated: the rows read lie inside the tile
            assert lo <= truth[0] and truth[1] <= hi
        checked += 1
    assert checked >= 30
