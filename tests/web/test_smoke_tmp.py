from tests.web.conftest import register, submit, wait_job

def test_smoke(client):
    assert client.get("/api/health").status_code in (200, 404)
    register(client)
    response = submit(client)
    assert response.status_code == 201, response.text
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "done", job
    r = client.get(job["result_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    for page in ["/", "/gallery", f"/jobs/{job['id']}", "/buy"]:
        assert client.get(page).status_code == 200, page
