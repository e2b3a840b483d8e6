"""The photo look (issue 23 item 2): a reference photo's colours and light on the user's photo,
beside the painting styles; the same upload checks and credit rules, gallery, download, before/after."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.web.conftest import image_bytes, register, wait_job
from tests.web.test_uploads import png_bomb


def warm_reference(size: tuple[int, int] = (56, 40)) -> bytes:
    """An orange-red photo with some texture (a sunset): far from the grey-blue test photo."""
    rng = np.random.default_rng(0)
    pixels = np.clip(rng.normal((220, 110, 40), 18, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def post_look(client: TestClient, reference: bytes, **data: str) -> object:
    files = {"photo": ("p.png", image_bytes(64, 48), "image/png"), "reference": ("r.png", reference, "image/png")}
    return client.post("/api/jobs", files=files, data=data)


def warmth(image: Image.Image) -> float:
    """Mean red minus mean blue: higher is warmer."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    return float(rgb[..., 0].mean() - rgb[..., 2].mean())


def test_a_photo_look_job_moves_the_colours_toward_the_reference(client) -> None:
    register(client)
    response = post_look(client, warm_reference())
    assert response.status_code == 201, response.text
    job = response.json()
    assert (job["style"], job["style_title"]) == ("photo look", "Photo look")
    done = wait_job(client, job["id"])
    assert done["status"] == "done", done
    result = Image.open(io.BytesIO(client.get(done["result_url"]).content))
    original = Image.open(io.BytesIO(client.get(done["original_url"]).content))  # the before/after's "before"
    assert result.size == original.size == (64, 48)
    before, after, target = warmth(original), warmth(result), warmth(Image.open(io.BytesIO(warm_reference())))
    assert after - before > 0.5 * (target - before), (before, after, target)  # well on the way to the reference
    download = client.get(f"{done['result_url']}?download=1")
    assert download.headers["content-disposition"].endswith(f'filename="photo_look-{job["id"][:8]}.png"')
    assert client.get("/api/auth/me").json()["credits"] == 2  # one credit, as any job
    assert "Photo look" in client.get("/gallery").text and "Photo look" in client.get(f"/jobs/{job['id']}").text
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
    stored = client.app.state.connections.settings.data_dir / "uploads"
    assert not [p for p in stored.rglob("*") if p.is_file()]  # the photo and the reference went with it


@pytest.mark.parametrize(
    ("reference", "status", "message"),
    [
        (b"", 400, "reference photo is empty"),
        (b"GIF89a not an image", 400, "reference photo"),
        (png_bomb(), 413, "megapixels"),
    ],
)
def test_a_bad_reference_is_one_error_and_free(client, reference: bytes, status: int, message: str) -> None:
    register(client)
    response = post_look(client, reference)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert client.get("/api/auth/me").json()["credits"] == 3
    assert client.get("/api/jobs").json()["jobs"] == []
    uploads = client.app.state.connections.settings.data_dir / "uploads"
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]  # nothing kept


def test_a_photo_look_needs_credits_and_takes_the_reference_alone(client) -> None:
    register(client)
    with_painting = post_look(client, warm_reference(), painting="wave.jpg")
    assert with_painting.status_code == 400 and "reference photo alone" in with_painting.json()["detail"]
    for _ in range(3):
        assert post_look(client, warm_reference()).status_code == 201
    assert post_look(client, warm_reference()).status_code == 402  # out of credits: as any job


def test_the_upload_form_offers_a_photo_look(client) -> None:
    register(client)
    page = client.get("/").text
    assert 'name="reference"' in page and "Or a photo look" in page
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    files = {
        "photo": ("p.png", image_bytes(64, 48), "image/png"),
        "reference": ("r.png", warm_reference(), "image/png"),
    }
    # The form preselects the first style: a reference photo makes it a photo look all the same.
    sent = client.post("/jobs", files=files, data={"csrf_token": csrf, "style": "starry_night"}, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    job = client.get("/api/jobs").json()["jobs"][0]
    assert job["style"] == "photo look" and wait_job(client, job["id"])["status"] == "done"
