"""What a probe of the site broke (issue 26): each test failed on the code before its fix."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import anyio
from fastapi.testclient import TestClient

from tests.web.conftest import image_bytes, make_client, register, submit, wait_job

CHUNK = b"x" * 65536
FORTY_MB = 40 * 1024 * 1024
PART_HEAD = b'--b\r\nContent-Disposition: form-data; name="photo"; filename="p.png"\r\nContent-Type: image/png\r\n\r\n'


def send_chunked(client: TestClient, cookie: str = "") -> tuple[int, int]:
    """POST 40 MB to /api/jobs in chunks with no Content-Length, straight into the ASGI app (the test
    client would read the whole body first); returns (status, bytes the app pulled)."""
    pulled = 0

    async def receive() -> dict:
        nonlocal pulled
        if pulled >= FORTY_MB:
            return {"type": "http.request", "body": b"", "more_body": False}
        body = PART_HEAD if pulled == 0 else CHUNK  # a well-formed file part, so a parser keeps reading
        pulled += len(body)
        return {"type": "http.request", "body": body, "more_body": True}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"multipart/form-data; boundary=b"),
        (b"transfer-encoding", b"chunked"),
    ]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/jobs",
        "raw_path": b"/api/jobs",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    anyio.run(client.app, scope, receive, send)
    return sent[0]["status"], pulled


def test_chunked_upload_without_a_session_is_refused_unread(client) -> None:
    status, pulled = send_chunked(client)
    assert status == 401 and pulled == 0


def test_chunked_upload_is_cut_at_the_limit(client, settings) -> None:
    register(client)
    status, pulled = send_chunked(client, f"fst_session={client.cookies['fst_session']}")
    assert status == 413
    assert pulled <= 2 * settings.max_upload_bytes + 1_000_000 + len(CHUNK)  # never the whole 40 MB


def test_concurrent_wrong_logins_hit_the_limit(client) -> None:
    register(client)
    client.post("/api/auth/logout")
    wrong = {"email": "ada@example.com", "password": "wrong password!"}
    with ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(lambda _: client.post("/api/auth/login", json=wrong).status_code, range(30)))
    assert statuses.count(401) <= 5 and statuses.count(429) >= 25  # settings: 5 failures a minute


def test_concurrent_submits_never_pass_the_limit(settings) -> None:
    limited = settings.replace(workers=0, uploads_per_minute=30, stripe_secret_key="", stripe_webhook_secret="")
    photo = image_bytes()
    with make_client(limited) as client:
        register(client)

        def submit(_: int) -> int:
            files = {"photo": ("photo.png", photo, "image/png")}
            return client.post("/api/jobs", files=files, data={"style": "starry_night"}).status_code

        with ThreadPoolExecutor(40) as pool:
            statuses = list(pool.map(submit, range(40)))
    assert statuses.count(201) <= 30 and set(statuses) <= {201, 429}, statuses


def test_sign_ups_are_throttled_per_address_and_network(settings) -> None:
    throttled = settings.replace(signups_per_hour=3, signups_per_hour_per_network=5)

    def sign_up(client: TestClient, email: str) -> int:
        return client.post("/api/auth/register", json={"email": email, "password": "correct horse battery"})

    with make_client(throttled) as app_client:
        first, neighbour, elsewhere = (
            TestClient(app_client.app, base_url="http://testserver", client=(host, 1))
            for host in ("10.0.0.9", "10.0.0.10", "10.0.1.9")
        )
        for n in range(3):
            assert sign_up(first, f"a{n}@example.com").status_code == 202
        refused = sign_up(first, "a3@example.com")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60  # an hour's window
        for n in range(2):  # the /24 had 3 of its 5
            assert sign_up(neighbour, f"b{n}@example.com").status_code == 202
        assert sign_up(neighbour, "b2@example.com").status_code == 429
        assert sign_up(elsewhere, "c@example.com").status_code == 202


def test_common_passwords_are_refused(client) -> None:
    for weak in ("password", "12345678", "qwertyuiop", "iloveyou123", "ada@example.com"):
        response = client.post("/api/auth/register", json={"email": "ada@example.com", "password": weak})
        assert response.status_code == 400 and "guess" in response.json()["detail"], weak
    assert (
        client.post(
            "/api/auth/register", json={"email": "ada@example.com", "password": "correct horse battery"}
        ).status_code
        == 202
    )


HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_browsers_get_html_error_pages_and_the_api_json(client) -> None:
    page = client.get("/no-such-page", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and '"detail"' not in page.text
    assert client.get("/api/no-such-thing", headers=HTML).json() == {"detail": "Not Found"}
    register(client, "owner@example.com")
    job = client.post(
        "/api/jobs", files={"photo": ("p.png", image_bytes(), "image/png")}, data={"style": "starry_night"}
    ).json()
    client.post("/api/auth/logout")
    register(client, "other@example.com")
    other = client.get(f"/jobs/{job['id']}", headers=HTML)  # another user's job: a page, not JSON
    assert other.status_code == 404 and "Page not found" in other.text
    assert "other@example.com" in other.text  # the header still shows who is logged in
    expired = client.post("/logout", data={"csrf_token": "stale"}, headers=HTML, follow_redirects=False)
    assert expired.status_code == 403 and "the form expired" in expired.text and "<html" in expired.text


def test_a_failed_stripe_call_is_a_clear_page(client, monkeypatch) -> None:
    import stripe

    def down(**_: object) -> None:
        raise stripe.APIConnectionError("network down")

    monkeypatch.setattr(stripe.checkout.Session, "create", down)
    register(client)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/buy").text).group(1)
    page = client.post("/buy", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert page.status_code == 502 and "nothing was charged" in page.text and "<html" in page.text
    api = client.post("/api/billing/checkout")
    assert api.status_code == 502 and "nothing was charged" in api.json()["detail"]


def test_pages_send_a_content_security_policy_and_no_inline_code(client) -> None:
    register(client)
    for path in ("/", "/gallery", "/buy", "/no-such-page"):
        response = client.get(path, headers=HTML)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert not re.search(r"\son[a-z]+=|<script>|style=", response.text), path  # the policy would block them


def test_the_origin_check_compares_the_scheme(client, settings) -> None:
    register(client)
    assert client.post("/api/auth/logout", headers={"Origin": "https://testserver"}).status_code == 403  # we are http
    assert client.post("/api/auth/logout", headers={"Origin": "http://testserver"}).status_code == 204
    with make_client(settings.replace(secure_cookies=True)) as behind_proxy:  # TLS ends at the proxy
        assert behind_proxy.post("/api/auth/logout", headers={"Origin": "http://testserver"}).status_code == 403
        assert behind_proxy.post("/api/auth/logout", headers={"Origin": "https://testserver"}).status_code == 204


def test_the_csrf_cookie_is_secure_over_https(settings) -> None:
    with TestClient(make_client(settings).app, base_url="https://testserver") as client:
        cookie = client.get("/login").headers["set-cookie"]
        assert cookie.startswith("fst_csrf=") and "Secure" in cookie


def test_admin_grant_never_makes_credits_negative(client, settings, capsys) -> None:
    from fst.web.cli import main

    register(client)  # 3 credits
    common = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url()]
    assert main([*common, "admin", "grant", "ada@example.com", "-5"]) == 1
    assert "cannot take 5" in capsys.readouterr().err
    assert client.get("/api/auth/me").json()["credits"] == 3
    assert main([*common, "admin", "grant", "ada@example.com", "-3"]) == 0
    assert client.get("/api/auth/me").json()["credits"] == 0


def test_one_credit_is_singular(client) -> None:
    from sqlalchemy import update

    from fst.web.models import User

    register(client)
    with client.app.state.connections.factory() as session:
        session.execute(update(User).values(credits=1))
        session.commit()
    for path in ("/", "/buy"):
        text = client.get(path).text
        assert "1 credits" not in text and "1</strong> credits" not in text, path
        assert "1 credit<" in text or "1</strong> credit." in text, path


def test_delete_asks_first(client) -> None:
    register(client)
    # A running job has no Delete button: wait for the embedded worker (it raced this page on PostgreSQL).
    wait_job(client, submit(client).json()["id"])
    assert 'data-confirm="Delete this picture?' in client.get("/gallery").text  # app.js asks before it posts


def test_every_painting_is_labelled_and_searchable(settings, tmp_path) -> None:
    from tests.conftest import random_photo

    paintings = tmp_path / "paintings"
    paintings.mkdir()
    names = [f"painter_{n:02d}__a_title.jpg" for n in range(30)]  # the gallery's painter__title
    for name in names:
        random_photo(8, 8, seed=1).save(paintings / name)
    with make_client(settings.replace(paintings_dir=paintings, workers=0)) as client:
        register(client)
        page = client.get("/").text
    assert page.count('name="painting"') == 30 and 'id="painting-search"' in page
    assert "A Title, Painter 29" in page  # a label, not only a thumbnail


def test_the_worker_reports_each_stage(settings) -> None:
    from fst import resources
    from fst.web import styles
    from fst.web.worker import StyleWorker

    worker = StyleWorker(settings, factory=None)
    reports: list[float] = []
    style = styles.find_style(settings.checkpoints_dir, "starry_night")
    photo = resources.demo_dir() / "chelsea.jpg"
    worker.stylize(photo, style, 1.0, False, settings.data_dir / "out.jpg", reports.append)
    assert reports == sorted(reports) and len(reports) >= 4, reports  # was 0.3 and 0.9 only
