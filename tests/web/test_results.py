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


def test_a_share_link_is_off_until_asked_unguessable_and_revocable(client) -> None:
    from fastapi.testclient import TestClient

    register(client, "owner@example.com")
    job = wait_job(client, submit(client).json()["id"])
    assert job["share_url"] is None  # off by default
    shared = client.post(f"/api/jobs/{job['id']}/share").json()
    token = shared["share_url"].removeprefix("/s/")
    assert len(token) >= 32 and token not in job["id"]
    assert client.post(f"/api/jobs/{job['id']}/share").json()["share_url"] == shared["share_url"]  # stable
    anonymous = TestClient(client.app, base_url="http://testserver")
    page = anonymous.get(shared["share_url"])
    assert page.status_code == 200 and page.headers["x-robots-tag"] == "noindex"
    assert anonymous.get(shared["share_url"] + "/image").headers["content-type"].startswith("image/")
    assert anonymous.get("/s/" + "A" * len(token)).status_code == 404
    client.post("/api/auth/logout")
    register(client, "other@example.com")
    assert client.post(f"/api/jobs/{job['id']}/share").status_code == 404  # not theirs
    assert client.delete(f"/api/jobs/{job['id']}/share").status_code == 404
    client.post("/api/auth/logout")
    client.post("/api/auth/login", json={"email": "owner@example.com", "password": "correct horse battery"})
    assert client.delete(f"/api/jobs/{job['id']}/share").status_code == 204
    assert anonymous.get(shared["share_url"]).status_code == 404
    assert anonymous.get(shared["share_url"] + "/image").status_code == 404
