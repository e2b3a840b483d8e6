"""What users expect of a result: the before/after view (the original is stored) and share links."""

from __future__ import annotations

from PIL import Image

from tests.web.conftest import image_bytes, register, submit, wait_job


def test_the_original_is_served_to_its_owner_only(client) -> None:
    register(client, "owner@example.com")
    job = wait_job(client, submit(client, image_bytes(64, 48)).json()["id"])
    assert job["original_url"] == f"/api/jobs/{job['id']}/original"
    original = client.get(job["original_url"])
    assert original.status_code == 200 and original.headers["content-type"] == "image/png"
    assert Image.open(__import__("io").BytesIO(original.content)).size == (64, 48)
    page = client.get(f"/jobs/{job['id']}").text
    assert 'id="compare-slider"' in page and job["original_url"] in page
    client.post("/api/auth/logout")
    register(client, "other@example.com")
    assert client.get(job["original_url"]).status_code == 404
