"""Any image as the style (the arbitrary-style model): an upload or a painting of the gallery."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fst import resources
from fst.checkpoint import export
from fst.web.settings import Settings
from tests.conftest import random_photo, tiny_adain
from tests.web.conftest import image_bytes, make_client, register, wait_job


@pytest.fixture
def arbitrary_client(settings: Settings, tmp_path: Path) -> TestClient:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    shutil.copy(resources.checkpoints_dir() / "six_paintings.safetensors", checkpoints)
    export(tiny_adain(seed=1), checkpoints / "adain.safetensors", {"name": "adain"})
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    random_photo(48, 40, seed=3).save(paintings / "wave.jpg")
    with make_client(settings.replace(checkpoints_dir=checkpoints, paintings_dir=paintings)) as client:
        yield client


def post(client: TestClient, **parts: object) -> dict:
    files = {"photo": ("p.png", image_bytes(60, 44), "image/png")}
    if "style_image" in parts:
        files["style_image"] = ("s.png", parts.pop("style_image"), "image/png")
    return client.post("/api/jobs", files=files, data=parts)


def result_image(client: TestClient, job: dict) -> Image.Image:
    done = wait_job(client, job["id"])
    assert done["status"] == "done", done
    return Image.open(io.BytesIO(client.get(done["result_url"]).content))


def test_an_uploaded_style_image_and_a_gallery_painting_each_stylize_for_one_credit(arbitrary_client) -> None:
    client = arbitrary_client
    register(client)
    assert client.get("/api/styles").json()["style_image_available"] is True
    assert "Coming soon" not in client.get("/").text
    uploaded = post(client, style_image=image_bytes(40, 40))
    assert uploaded.status_code == 201, uploaded.text
    assert result_image(client, uploaded.json()).size == (60, 44)
    painted = post(client, painting="wave.jpg")
    assert painted.status_code == 201 and painted.json()["style"] == "wave"
    assert result_image(client, painted.json()).size == (60, 44)
    assert client.get("/api/auth/me").json()["credits"] == 1  # 3 free, one each


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"painting": "../secret_key"}, "unknown painting"),
        ({"painting": "missing.jpg"}, "unknown painting"),
        ({"style_image": b""}, "style image is empty"),
        ({"style_image": b"GIF89a not an image"}, "style image"),
    ],
)
def test_a_bad_style_image_or_painting_is_one_error_and_free(arbitrary_client, parts: dict, message: str) -> None:
    client = arbitrary_client
    register(client)
    response = post(client, **parts)
    assert response.status_code in (400, 413, 415), response.text
    assert message in response.json()["detail"]
    assert client.get("/api/auth/me").json()["credits"] == 3
    assert client.get("/api/jobs").json()["jobs"] == []
    uploads = client.app.state.connections.settings.data_dir / "uploads"
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]  # nothing kept


def test_painting_is_checked_beside_a_style_image(arbitrary_client) -> None:
    register(arbitrary_client)
    for bad in ('<img src=x>"/../../etc/passwd.jpg', "x" * 5000, "wave.jpg/../wave.jpg"):
        response = post(arbitrary_client, style_image=image_bytes(), painting=bad)
        assert response.status_code in (400, 422), (bad[:40], response.status_code)
    job = wait_job(
        arbitrary_client, post(arbitrary_client, style_image=image_bytes(), painting="wave.jpg").json()["id"]
    )
    assert job["status"] == "done" and job["style"] == "wave"
    download = arbitrary_client.get(f"/api/jobs/{job['id']}/result?download=1")
    assert download.headers["content-disposition"].endswith(f'filename="wave-{job["id"][:8]}.png"')
