from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from fst.stylize.inputs import (
    Job,
    collect_inputs,
    header_size,
    plan_jobs,
    rank_and_world_size,
    shard,
    whole_image_work,
)

from .helpers import noise_image


def make_tree(root: Path) -> None:
    for name in ["a.jpg", "sub/b.png", "sub/deeper/c.webp", "notes.txt", ".hidden.jpg"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")


def test_folder_is_recursive_and_mirrored(tmp_path: Path) -> None:
    make_tree(tmp_path / "in")
    jobs = plan_jobs(tmp_path / "in", tmp_path / "out", ["starry"])
    assert [j.target.relative_to(tmp_path / "out").as_posix() for j in jobs] == [
        "a.jpg",
        "sub/b.png",
        "sub/deeper/c.webp",
    ]
    forced = plan_jobs(tmp_path / "in", tmp_path / "out", ["starry", "wave"], fmt="png")
    assert {j.target.relative_to(tmp_path / "out").as_posix() for j in forced} >= {
        "wave/a.png",
        "starry/a.png",
    }


def test_a_folder_of_links_to_photos_elsewhere_mirrors_its_own_names(tmp_path: Path) -> None:
    # `stylize.py LINKS -o OUT` crashed: the linked file, resolved, was not under the folder.
    make_tree(tmp_path / "photos")
    (tmp_path / "links" / "sub").mkdir(parents=True)
    (tmp_path / "links" / "cat.jpg").symlink_to(tmp_path / "photos" / "a.jpg")
    (tmp_path / "links" / "sub" / "dog.png").symlink_to(tmp_path / "photos" / "sub" / "b.png")
    jobs = plan_jobs(tmp_path / "links", tmp_path / "out", ["starry", "wave"])
    assert sorted(j.target.relative_to(tmp_path / "out").as_posix() for j in jobs) == [
        "starry/cat.jpg",
        "starry/sub/dog.png",
        "wave/cat.jpg",
        "wave/sub/dog.png",
    ]
    in_place = plan_jobs(tmp_path / "links", tmp_path / "links", ["starry", "wave"])
    assert sorted(j.target.relative_to(tmp_path / "links").as_posix() for j in in_place)[0] == "starry/cat.jpg"
    # A glob or a list of links names outputs after the links too (they took the targets' names).
    _, globbed = collect_inputs(str(tmp_path / "links" / "*.jpg"))
    assert globbed == [tmp_path / "links" / "cat.jpg"]
    jobs = plan_jobs(str(tmp_path / "links" / "*.jpg"), tmp_path / "out", ["starry"])
    assert [(j.source, j.target) for j in jobs] == [(globbed[0], tmp_path / "out" / "cat.jpg")]
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'links' / 'sub' / 'dog.png'}\n")
    assert [j.target.name for j in plan_jobs(listing, tmp_path / "out", ["starry"])] == ["dog.png"]


def test_glob_and_list_file(tmp_path: Path) -> None:
    make_tree(tmp_path / "in")
    _, files = collect_inputs(str(tmp_path / "in" / "**" / "*.png"))
    assert [f.name for f in files] == ["b.png"]
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'in' / 'a.jpg'}\n\n{tmp_path / 'in' / 'sub' / 'b.png'}\n")
    root, files = collect_inputs(listing)
    assert [f.name for f in files] == ["a.jpg", "b.png"] and root == tmp_path / "in"


@pytest.mark.parametrize("styles", [["starry"], ["starry", "wave"]])
def test_in_place_never_targets_an_input_and_skips_own_outputs(tmp_path: Path, styles: list[str]) -> None:
    make_tree(tmp_path)
    jobs = plan_jobs(tmp_path, tmp_path, styles)
    sources = {j.source.resolve() for j in jobs}
    assert all(j.target.resolve() not in sources for j in jobs)
    for job in jobs:  # pretend the run wrote its outputs
        job.target.parent.mkdir(parents=True, exist_ok=True)
        job.target.write_bytes(b"y")
    again = plan_jobs(tmp_path, tmp_path, styles)
    assert [(j.source, j.target) for j in again] == [(j.source, j.target) for j in jobs]


def test_output_folder_inside_input_folder_is_excluded(tmp_path: Path) -> None:
    make_tree(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.jpg").write_bytes(b"y")
    assert len(plan_jobs(tmp_path, tmp_path / "out", ["s"])) == 3


def test_shards_cover_every_job_once(tmp_path: Path) -> None:
    make_tree(tmp_path / "in")
    jobs = plan_jobs(tmp_path / "in", tmp_path / "out", ["s", "t"])
    parts = [shard(jobs, rank, 4) for rank in range(4)]
    flat = [j for part in parts for j in part]
    assert len(flat) == len(set(flat)) == len(jobs)


def test_rank_from_torchrun_and_slurm() -> None:
    assert rank_and_world_size({}) == (0, 1)
    assert rank_and_world_size({"RANK": "1", "WORLD_SIZE": "2"}) == (1, 2)
    assert rank_and_world_size({"SLURM_PROCID": "3", "SLURM_NTASKS": "4"}) == (3, 4)
    with pytest.raises(ValueError):
        rank_and_world_size({"RANK": "2", "WORLD_SIZE": "2"})


def test_whole_image_work_reads_headers_with_exif_rotation(tmp_path: Path) -> None:
    rotated = noise_image(60, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed as 20 x 60
    rotated.save(tmp_path / "rotated.jpg", exif=exif)
    assert header_size(tmp_path / "rotated.jpg") == (20, 60)
    noise_image(100, 100).save(tmp_path / "big.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert header_size(tmp_path / "broken.jpg") is None
    jobs = [Job(tmp_path / name, tmp_path / "out" / name, "s") for name in ("rotated.jpg", "big.png", "broken.jpg")]
    # big.png (10,000 px) is over max_pixels: tiled, not whole; broken.jpg counts as nothing.
    assert whole_image_work(jobs, max_pixels=5000, enough=(9, 9.0)) == (1, 0.0012)
    assert whole_image_work(jobs, max_pixels=20000, enough=(1, 0.0)) == (1, 0.0012)  # stops early
    assert whole_image_work(jobs, max_pixels=5000, content_scale=0.5, enough=(9, 9.0)) == (2, 0.0028)
