"""The style stream and the (content, style) pairs: deterministic by position, robust, split by name."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from fst.config import compose_config
from fst.data.datamodule import ContentStyleDataModule
from fst.data.dataset import PhotoStream
from fst.data.styles import FlippedStream, PairedStream, split_styles
from tests.conftest import random_photo


@pytest.fixture
def style_folder(tmp_path: Path) -> Path:
    root = tmp_path / "styles"
    root.mkdir()
    for i in range(5):
        random_photo(40 + 6 * i, 36, seed=30 + i).save(root / f"style_{i}.jpg")
    (root / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def test_split_by_name_holds_validation_and_excluded_out(style_folder: Path) -> None:
    train, val = split_styles([style_folder], ["style_3.jpg", "style_1.jpg"], ["style_0.jpg"])
    assert [p.name for p in val] == ["style_3.jpg", "style_1.jpg"]
    assert {p.name for p in train} == {"style_2.jpg", "style_4.jpg", "broken.jpg"}
    with pytest.raises(FileNotFoundError, match=r"style_9\.jpg"):
        split_styles([style_folder], ["style_9.jpg"])


def test_pairs_are_a_pure_function_of_position(photo_folder: Path, style_folder: Path) -> None:
    def stream() -> PairedStream:
        photos = PhotoStream(sorted(photo_folder.rglob("*.jpg")), 16, seed=0)
        styles = FlippedStream(PhotoStream(sorted(style_folder.glob("*.jpg")), 16, seed=1), seed=1)
        return PairedStream(photos, styles)

    first, second = stream(), stream()
    positions = [17, 3, 40, 3, 0]  # any order, repeats: a resumed run reads from the middle
    for position in positions:
        for a, b in zip(first[position], second[position], strict=True):
            assert torch.equal(a, b)
    # The broken style file is skipped (one warning), never returned, and the stream goes on.
    styles = [second[p][1] for p in range(12)]
    assert second.style.stream.skipped == {style_folder / "broken.jpg"}
    assert all(s.shape == (3, 16, 16) for s in styles)


def test_flips_are_drawn_per_position() -> None:
    class Constant(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, position: int) -> torch.Tensor:
            return torch.arange(4.0).view(1, 1, 4)

    flipped = FlippedStream(Constant(), seed=0)
    outcomes = [bool(flipped[p][0, 0, 0] == 3.0) for p in range(64)]
    assert 10 < sum(outcomes) < 54  # about half are mirrored
    assert outcomes == [bool(flipped[p][0, 0, 0] == 3.0) for p in range(64)]


def test_datamodule_yields_content_style_batches(photo_folder: Path, style_folder: Path) -> None:
    module = ContentStyleDataModule(
        str(photo_folder),
        style_dirs=[str(style_folder)],
        val_styles=["style_4.jpg", "style_2.jpg"],
        image_size=16,
        val_fraction=0.3,
        val_images=2,
    )
    module.setup()
    content, style = module.train_set[5]
    assert content.shape == style.shape == (3, 16, 16)
    assert len(module.val_set) == 2  # every validation style once
    _, val_style = module.val_set[1]
    assert val_style.shape == (3, 16, 16)
    train_styles = {p.name for p in module.train_set.style.stream.files}
    assert not train_styles & {"style_4.jpg", "style_2.jpg"}


def test_shipped_split_holds_out_every_non_van_gogh_and_every_evaluation_painting(assets: Path) -> None:
    data = compose_config("train", ["experiment=adain"]).data
    train, val = split_styles(data.style_dirs, data.val_styles, data.exclude_styles)
    with open(assets / "paintings" / "manifest.csv", newline="") as handle:
        artists = {row["file"]: row for row in csv.DictReader(handle)}
    assert {p.name for p in val} == {name for name, row in artists.items() if row["artist"] != "Vincent van Gogh"}
    evaluation = {name for name, row in artists.items() if row["same_picture_as_styles"]}
    trained = {p.name for p in train}
    assert not trained & evaluation  # none of the judge's six styles (or their other scans) trains
    assert not trained & {p.name for p in val}
    assert len(train) == 379 + 60  # the other van Goghs + the photographic style targets
