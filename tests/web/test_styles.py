"""The styles adapter: shipped checkpoints by metadata, the arbitrary-style switch, the painting gallery."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from fst import resources
from fst.checkpoint import export
from fst.models.multistyle import MultiStyleNet
from fst.models.transformer import TransformerNet
from fst.stylize.loading import load_stylizer
from fst.web import styles
from tests.web.conftest import register, submit


def test_shipped_styles_are_read_from_checkpoint_metadata(tmp_path: Path) -> None:
    shutil.copy(resources.checkpoints_dir() / "six_paintings.safetensors", tmp_path)
    six = [
        "composition_vii",
        "starry_night",
        "the_great_wave",
        "the_scream",
        "the_shipwreck_of_the_minotaur",
        "udnie",
    ]
    listed = styles.shipped_styles(tmp_path)
    assert [style.name for style in listed] == six
    starry = styles.find_style(tmp_path, "starry_night")
    assert (starry.title, starry.painting) == ("Starry Night", "starry_night.jpg")
    net = TransformerNet(channels=[8, 16, 32], num_residual_blocks=1)
    export(net, tmp_path / "b_file.safetensors", {"style": {"name": "udnie"}})
    export(net, tmp_path / "c_file.safetensors", {"style": {"name": "mosaic"}})
    save_file({"x": net.state_dict()["encoder.0.0.1.weight"]}, str(tmp_path / "bare.safetensors"))  # no metadata
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    names = [style.name for style in styles.shipped_styles(tmp_path)]  # re-read: the folder changed
    assert names == sorted([*six, "mosaic"])  # sorted by name, each once; unusable files are not offered
    # A name in a single-style and a multi-style file is served from the single-style one (as fst.zoo picks).
    assert styles.find_style(tmp_path, "udnie").checkpoint == tmp_path / "b_file.safetensors"
    assert styles.find_style(tmp_path, "starry_night").checkpoint == tmp_path / "six_paintings.safetensors"
    assert styles.find_style(tmp_path, "../starry_night") is None
    # A cheaper net of the same six (a distilled student beside its teacher) serves them; a name in a
    # single-style file still comes from that file.
    student = MultiStyleNet(six, channels=(8, 16), num_residual_blocks=1, space_to_depth=True)
    export(student, tmp_path / "z_student.safetensors", {"styles": [{"name": n, "file": f"{n}.jpg"} for n in six]})
    assert [style.name for style in styles.shipped_styles(tmp_path)] == sorted([*six, "mosaic"])
    assert styles.find_style(tmp_path, "starry_night").checkpoint == tmp_path / "z_student.safetensors"
    assert styles.find_style(tmp_path, "udnie").checkpoint == tmp_path / "b_file.safetensors"


def test_every_style_of_a_multi_style_file_is_offered_and_served_by_its_own_net(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = MultiStyleNet(["ink", "fire"], channels=(8, 16, 32), num_residual_blocks=1)
    with torch.no_grad():
        for norm in net.norms:
            norm.bias.copy_(torch.randn_like(norm.bias))
    entries = [{"name": name, "file": f"{name}.jpg", "sha256": ""} for name in net.style_names]
    export(net, tmp_path / "duo.safetensors", {"styles": entries})
    listed = styles.shipped_styles(tmp_path)
    assert [(s.name, s.painting, s.checkpoint.name) for s in listed] == [
        ("fire", "fire.jpg", "duo.safetensors"),
        ("ink", "ink.jpg", "duo.safetensors"),
    ]
    photo = torch.rand(1, 3, 24, 24)
    outputs = [load_stylizer(s.checkpoint, style={s.name: 1.0})[0](photo) for s in listed]  # as the worker loads
    assert (outputs[0] - outputs[1]).abs().max() > 1e-3


def test_arbitrary_style_is_available_once_its_file_ships(tmp_path: Path) -> None:
    assert styles.arbitrary_style_checkpoint(tmp_path) is None
    (tmp_path / styles.ARBITRARY_STYLE_FILE).write_bytes(b"placeholder")
    assert styles.arbitrary_style_checkpoint(tmp_path) == tmp_path / "adain.safetensors"
    assert styles.shipped_styles(tmp_path) == ()  # never offered as a fixed style


def test_gallery_lists_images_only(tmp_path: Path) -> None:
    assert styles.gallery_paintings(tmp_path / "absent") == []
    for name in ("b.jpg", "a.PNG", "manifest.csv", "README.md"):
        (tmp_path / name).write_bytes(b"")
    assert styles.gallery_paintings(tmp_path) == ["a.PNG", "b.jpg"]
    assert styles.gallery_painting(tmp_path, "b.jpg") == tmp_path / "b.jpg"
    assert styles.gallery_painting(tmp_path, "../b.jpg") is None
    assert styles.gallery_painting(tmp_path, "README.md") is None


def test_no_assets_means_an_empty_gallery() -> None:
    # An installed package without shared assets: `paintings_dir` is None and the site still works.
    assert styles.gallery_paintings(None) == [] and styles.gallery_painting(None, "wave.jpg") is None


def test_gallery_route_serves_listed_paintings_only(client, tmp_path: Path) -> None:
    folder = tmp_path / "paintings"
    folder.mkdir()
    (folder / "wave.jpg").write_bytes(b"jpeg bytes")
    object.__setattr__(client.app.state.connections.settings, "paintings_dir", folder)
    assert client.get("/gallery/paintings/wave.jpg").content == b"jpeg bytes"
    assert client.get("/gallery/paintings/..%2Fsecret_key").status_code == 404
    assert client.get("/api/styles").json()["gallery"] == ["wave.jpg"]


def test_worker_writes_a_preview_per_style(client) -> None:
    import io

    from PIL import Image

    response = client.get("/styles/starry_night/preview.jpg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).width == 192
    assert client.get("/styles/mona_lisa/preview.jpg").status_code == 404
    listed = {style["name"]: style for style in client.get("/api/styles").json()["styles"]}
    assert listed["starry_night"]["preview_url"] == "/styles/starry_night/preview.jpg"


def test_names_are_shown_properly_capitalised() -> None:
    """Roman numerals upper-case, every word of a name capitalised but the small ones (issue 26:
    the site read "Composition vii")."""
    assert styles.display_name("composition_vii") == "Composition VII"
    assert styles.display_name("the_shipwreck_of_the_minotaur") == "The Shipwreck of the Minotaur"
    assert styles.display_name("starry_night") == "Starry Night"
    assert styles.display_name("louis_xiv_in_the_civil_war") == "Louis XIV in the Civil War"
    assert styles.display_name("wassily_kandinsky__composition_vii") == "Composition VII, Wassily Kandinsky"
    assert styles.display_name("vincent_van_gogh__starry_night_over_the_rhone.jpg") == (
        "Starry Night over the Rhone, Vincent van Gogh"
    )
    assert styles.painting_title("j_m_w_turner__shipwreck.jpg") == "Shipwreck, J M W Turner"
    assert styles.display_name("your image") == "Your image"  # already words: kept as written


def test_pages_show_display_names(client) -> None:
    register(client)
    assert "Composition VII" in client.get("/").text
    job = submit(client, style="composition_vii").json()
    assert job["style_title"] == "Composition VII"
    for page in (client.get(f"/jobs/{job['id']}").text, client.get("/gallery").text):
        assert "Composition VII" in page and "Composition vii" not in page
