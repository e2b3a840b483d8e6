from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fst.data.dataset import (
    FixedImages,
    PhotoStream,
    StreamSampler,
    draw_short_side,
    is_validation_file,
    list_images,
)
from tests.conftest import random_photo


def add_bad_files(root: Path) -> None:
    (root / "zero.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("not a jpeg")
    good = root / "img_1.jpg"
    (root / "truncated.jpg").write_bytes(good.read_bytes()[:300])
    random_photo(50, 40, seed=9).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(np.linspace(0, 65535, 50 * 40, dtype=np.uint16).reshape(40, 50)).save(root / "deep.png")


def test_list_images_is_recursive_and_sorted(photo_folder: Path) -> None:
    files = list_images(photo_folder)
    assert len(files) == 8
    assert any(f.parent.name == "sub" for f in files)
    assert files == sorted(files)


def test_stream_survives_every_kind_of_bad_file(photo_folder: Path) -> None:
    add_bad_files(photo_folder)
    stream = PhotoStream(list_images(photo_folder), image_size=32, seed=1)
    samples = [stream[p] for p in range(3 * len(stream))]  # three epochs: every file tried
    assert all(s.shape == (3, 32, 32) and s.dtype == torch.float32 for s in samples)
    assert all(float(s.min()) >= 0.0 and float(s.max()) <= 1.0 for s in samples)
    assert {p.name for p in stream.skipped} == {"zero.jpg", "text.jpg", "truncated.jpg"}


def test_stream_is_a_pure_function_of_position(photo_folder: Path) -> None:
    a = PhotoStream(list_images(photo_folder), 32, seed=5)
    b = PhotoStream(list_images(photo_folder), 32, seed=5)
    order = [13, 2, 7, 13, 40]
    assert all(torch.equal(a[p], b[p]) for p in order)  # any order, any worker: same sample
    c = PhotoStream(list_images(photo_folder), 32, seed=6)
    assert not torch.equal(a[3], c[3])


def test_every_file_once_per_epoch(photo_folder: Path) -> None:
    stream = PhotoStream(list_images(photo_folder), 32, seed=0)
    for epoch in range(2):
        seen = [stream.files[stream._permutation(epoch)[i]] for i in range(len(stream))]
        assert sorted(seen) == stream.files


def test_ranks_partition_the_stream() -> None:
    ranks = [list(StreamSampler(8, 20, rank=r, world_size=3)) for r in range(3)]
    assert sorted(p for rank in ranks for p in rank) == list(range(8, 20))
    assert not set(ranks[0]) & set(ranks[1])


def test_a_resumed_stream_keeps_the_whole_runs_length() -> None:
    # Lightning counts a resumed epoch's batches from the restored step up to the loader's length.
    resumed = StreamSampler(8, 20)
    assert len(resumed) == 20
    assert list(resumed) == list(range(8, 20))


def test_validation_split_is_stable() -> None:
    names = [Path(f"/data/{i}.jpg") for i in range(2000)]
    held_out = [p for p in names if is_validation_file(p, 0.05)]
    assert 50 < len(held_out) < 150
    assert held_out == [p for p in names if is_validation_file(Path("/elsewhere") / p.name, 0.05)]


def test_fixed_images_drop_unreadable_files(photo_folder: Path) -> None:
    add_bad_files(photo_folder)
    fixed = FixedImages(list_images(photo_folder), 24)
    assert len(fixed) == 10  # 8 photos + CMYK + 16-bit
    assert fixed[0].shape == (3, 24, 24)
    assert torch.equal(fixed[0], fixed[0])


def test_a_short_side_range_draws_each_scale_deterministically() -> None:
    generator = torch.Generator().manual_seed(0)
    drawn = [draw_short_side([32, 40], generator) for _ in range(200)]
    assert set(drawn) == set(range(32, 41))  # every side of the range, none outside it
    again = torch.Generator().manual_seed(0)
    assert drawn[:20] == [draw_short_side((32, 40), again) for _ in range(20)]  # the resume replays it
    assert draw_short_side([32, 40], None) == 32  # validation: the low end, fixed
    assert draw_short_side(48, generator) == 48 and draw_short_side(None, generator) is None
    with pytest.raises(ValueError, match="low <= high"):
        draw_short_side([40, 32], generator)


def test_a_short_side_range_mixes_the_scales_in_one_stream(photo_folder: Path) -> None:
    files = list_images(photo_folder)
    mixed = PhotoStream(files, 16, seed=2, short_side=[16, 64])
    assert all(mixed[p].shape == (3, 16, 16) for p in range(8))
    assert torch.equal(mixed[3], PhotoStream(files, 16, seed=2, short_side=[16, 64])[3])
    fixed = [PhotoStream(files, 16, seed=2, short_side=side)[p] for side in (16, 64) for p in range(8)]
    # The same positions at the range's ends give other crops: the range is drawn, not one end.
    assert sum(any(torch.equal(mixed[p], crop) for crop in fixed) for p in range(8)) < 8
    assert torch.equal(FixedImages(files, 16, short_side=[16, 64])[0], FixedImages(files, 16, short_side=16)[0])


def test_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        list_images(tmp_path / "nothing")


def test_crops_from_larger_short_side_keep_the_crop_size(photo_folder: Path) -> None:
    files = list_images(photo_folder)
    whole = PhotoStream(files, 16, seed=2)
    part = PhotoStream(files, 16, seed=2, short_side=48)
    a, b = whole[0], part[0]
    assert a.shape == b.shape == (3, 16, 16)
    assert not torch.equal(a, b)

    # A crop of the 48-px image is smoother per pixel than the whole image squeezed into 16 px.
    def roughness(x: torch.Tensor) -> float:
        return float((x[..., 1:] - x[..., :-1]).abs().mean())

    smooth = sum(roughness(part[p]) for p in range(8))
    rough = sum(roughness(whole[p]) for p in range(8))
    assert smooth < rough


def test_flat_crops_are_never_trained_on(photo_folder: Path) -> None:
    # A constant crop made every instance norm multiply the gradient by 1/sqrt(eps): inf at step 1976.
    Image.new("RGB", (64, 48), "white").save(photo_folder / "white.jpg")
    Image.new("RGB", (64, 48), (30, 90, 200)).save(photo_folder / "blue.png")
    stream = PhotoStream(list_images(photo_folder), image_size=16, seed=3)
    samples = [stream[p] for p in range(3 * len(stream))]
    assert min(float(s.std(dim=(1, 2)).max()) for s in samples) >= PhotoStream.min_std
    assert stream.flat_crops >= 6  # both flat files, once per epoch, fell through to the next file
