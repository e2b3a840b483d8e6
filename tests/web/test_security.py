"""Forms need CSRF tokens, cross-site writes are refused, user text is escaped, secrets stay out."""

from __future__ import annotations

import re
import stat
import subprocess

from fst.web.settings import Settings
from tests.web.conftest import PASSWORD, REPO, register, submit, wait_job


def form_token(client, path: str = "/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def test_login_form_needs_the_csrf_token(client) -> None:
    register(client)
    client.post("/api/auth/logout")
    form = {"email": "ada@example.com", "password": PASSWORD}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 403
    assert client.post("/login", data={**form, "csrf_token": "0" * 64}, follow_redirects=False).status_code == 403
    token = form_token(client)
    response = client.post("/login", data={**form, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and client.get("/api/auth/me").status_code == 200


def test_token_of_another_browser_is_refused(client) -> None:
    token = form_token(client)
    client.cookies.set("fst_csrf", "another-browsers-cookie")
    form = {"email": "x@example.com", "password": PASSWORD, "csrf_token": token}
    assert client.post("/signup", data=form, follow_redirects=False).status_code == 403


def test_delete_and_logout_forms_need_the_token(client) -> None:
    register(client)
    job = wait_job(client, submit(client).json()["id"])
    assert client.post(f"/jobs/{job['id']}/delete", follow_redirects=False).status_code == 403
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get(f"/api/jobs/{job['id']}").status_code == 200
    token = form_token(client, "/gallery")
    assert (
        client.post(f"/jobs/{job['id']}/delete", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    )
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404


def test_cross_site_writes_are_refused(client) -> None:
    register(client)
    evil = {"Origin": "https://evil.example"}
    response = client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}, headers=evil)
    assert response.status_code == 403
    files = {"photo": ("p.png", b"x", "image/png")}
    assert client.post("/api/jobs", files=files, data={"style": "starry_night"}, headers=evil).status_code == 403
    same = {"Origin": "http://testserver"}
    assert client.get("/api/jobs", headers=evil).status_code == 200  # reads are not writes
    assert client.post("/api/auth/logout", headers=same).status_code == 204


def test_user_text_is_html_escaped(client) -> None:
    register(client, "<script>alert(1)</script>@example.com")
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in page


def test_security_headers(client) -> None:
    response = client.get("/login")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "HttpOnly" in response.headers["set-cookie"]  # the CSRF cookie


def test_secret_key_is_generated_once_per_data_dir(tmp_path) -> None:
    first = Settings(data_dir=tmp_path / "a").with_secret()
    assert len(first.secret_key) >= 40
    assert Settings(data_dir=tmp_path / "a").with_secret().secret_key == first.secret_key
    assert Settings(data_dir=tmp_path / "b").with_secret().secret_key != first.secret_key
    assert stat.S_IMODE((tmp_path / "a" / "secret_key").stat().st_mode) == 0o600


def test_no_secret_in_the_repo() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    live = "_live_"  # split, so this file does not match itself
    pattern = re.compile(rf"(sk{live}|rk{live}|whsec_[A-Za-z0-9]{{20,}}|-----BEGIN [A-Z ]*PRIVATE KEY)")
    for name in tracked:
        path = REPO / name
        if path.suffix in (".py", ".md", ".toml", ".sh", ".html", ".js", ".yaml", ".txt", ".ini", ".cfg"):
            assert not pattern.search(path.read_text(errors="ignore")), name
