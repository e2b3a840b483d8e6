"""Accounts: sign up, log in, log out, the session cookie's flags, 401s and the login rate limit."""

from __future__ import annotations

import re
from unittest.mock import patch

from sqlalchemy import select

from fst.web.models import User
from fst.web.security import hash_password
from tests.web.conftest import PASSWORD, mailed_token, mails, make_client, register


def test_register_login_logout(client) -> None:
    account = register(client, "Ada@Example.com")
    assert account == {"email": "ada@example.com", "credits": 3, "billing": True, "verified": True}
    assert client.get("/api/auth/me").json()["email"] == "ada@example.com"
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/auth/me").status_code == 401
    response = client.post("/api/auth/login", json={"email": "ADA@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert client.get("/api/auth/me").status_code == 200


def test_sign_up_does_not_tell_whether_an_address_has_an_account(client) -> None:
    """A taken address answers exactly as a new one (status, body, headers: no session either way,
    a sign-up cookie of one shape both ways, and Argon2 runs in both); its owner is e-mailed a
    notice with a reset link instead."""
    register(client)
    client.post("/api/auth/logout")
    answers = {}
    for email in ("ada@example.com", "new@example.com"):
        with patch("fst.web.services.auth.hash_password", wraps=hash_password) as hashed:
            body = {"email": email, "password": "another good password"}
            answers[email] = client.post("/api/auth/register", json=body)
        assert hashed.call_count == 1, email
    taken, new = answers["ada@example.com"], answers["new@example.com"]
    assert (taken.status_code, taken.json()) == (new.status_code, new.json()) and taken.status_code == 202
    # No session either way; the sign-up cookie both ways, alike but for its opaque value.
    shapes = [re.sub(r"fst_signup=[0-9a-f]{64}", "fst_signup=V", r.headers["set-cookie"]) for r in (taken, new)]
    assert shapes[0] == shapes[1] and "fst_session" not in shapes[0] and shapes[0].startswith("fst_signup=V;")
    notice = mails(client, "ada@example.com")[-1]
    assert notice["Subject"] == "Someone tried to sign up with your address"
    assert "/reset?token=" in notice.get_payload(decode=True).decode()
    assert mails(client, "new@example.com")[-1]["Subject"] == "Confirm your e-mail address"
    # Signing up, then logging in with that password cannot tell either: a new account signs in
    # first by its link, so both logins fail alike.
    logins = [
        client.post("/api/auth/login", json={"email": email, "password": "another good password"})
        for email in ("ada@example.com", "new@example.com")
    ]
    assert [r.status_code for r in logins] == [401, 401] and logins[0].json() == logins[1].json()
    # The owner's password still works, and the reset link sets a new one.
    assert client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}).status_code == 200


def test_sign_up_pages_are_the_same_for_a_taken_address(client) -> None:
    register(client)
    client.post("/api/auth/logout")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signup").text).group(1)
    pages = [
        client.post("/signup", data={"email": e, "password": "another good password", "csrf_token": token})
        for e in ("ada@example.com", "x@example.com")
    ]
    assert [p.status_code for p in pages] == [200, 200] and "Check your inbox" in pages[0].text
    assert pages[0].text.replace("ada@example.com", "E") == pages[1].text.replace("x@example.com", "E")


def test_register_rejects_bad_input(client) -> None:
    assert client.post("/api/auth/register", json={"email": "not-an-email", "password": PASSWORD}).status_code == 400
    assert client.post("/api/auth/register", json={"email": "b@example.com", "password": "short"}).status_code == 400


def test_passwords_are_stored_as_argon2(client) -> None:
    register(client)
    with client.app.state.connections.factory() as session:
        stored = session.scalar(select(User.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def sign_in_by_link(client, email: str):
    """Sign up and open the e-mailed link: the answer that sets the session cookie. With the
    password: a Secure sign-up cookie is not sent back over the tests' plain HTTP."""
    client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    token = mailed_token(client, email, "verify")
    return client.post("/api/auth/verify", json={"token": token, "password": PASSWORD})


def test_session_cookie_is_httponly_and_samesite(client) -> None:
    response = sign_in_by_link(client, "c@example.com")
    cookie = response.headers["set-cookie"]
    assert "fst_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in tests; behind HTTPS see the next test


def test_session_cookie_is_secure_behind_https(settings) -> None:
    with make_client(settings.replace(secure_cookies=True)) as client:
        response = sign_in_by_link(client, "d@example.com")
        assert "Secure" in response.headers["set-cookie"]


def test_unauthenticated_api_calls_are_401(client) -> None:
    calls = [
        ("get", "/api/auth/me"),
        ("get", "/api/jobs"),
        ("post", "/api/jobs"),
        ("get", "/api/jobs/0123456789abcdef0123456789abcdef"),
        ("get", "/api/jobs/0123456789abcdef0123456789abcdef/result"),
        ("delete", "/api/jobs/0123456789abcdef0123456789abcdef"),
        ("post", "/api/billing/checkout"),
    ]
    for method, path in calls:
        response = getattr(client, method)(path)
        assert response.status_code == 401, (method, path, response.status_code)


def test_login_is_rate_limited_with_retry_after(client) -> None:
    register(client)
    client.post("/api/auth/logout")
    for _ in range(5):  # settings: 5 failed attempts a minute
        assert (
            client.post("/api/auth/login", json={"email": "ada@example.com", "password": "wrong!!!"}).status_code == 401
        )
    limited = client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Another account is not locked out by these failures.
    register(client, "bob@example.com")
    client.post("/api/auth/logout")
    assert client.post("/api/auth/login", json={"email": "bob@example.com", "password": PASSWORD}).status_code == 200


def test_health(client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_openapi_documents_the_api(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/health",
        "/api/auth/register",
        "/api/auth/login",
        "/api/styles",
        "/api/jobs",
        "/api/jobs/{job_id}",
    ):
        assert path in paths
    assert {"get", "delete"} <= set(paths["/api/jobs/{job_id}"])
    assert "/api/jobs/{job_id}/result" in paths


def test_session_cookie_is_secure_when_the_request_came_over_https(settings) -> None:
    from fastapi.testclient import TestClient

    from fst.web.app import create_app

    with TestClient(create_app(settings), base_url="https://testserver") as client:
        response = sign_in_by_link(client, "e@example.com")
        assert "Secure" in response.headers["set-cookie"]


def test_expired_login_sessions_are_refused_and_cleared(client) -> None:
    from sqlalchemy import func, update

    from fst.web.models import LoginSession

    register(client)
    factory = client.app.state.connections.factory
    with factory() as session:
        session.execute(update(LoginSession).values(expires_at=0.0))
        session.commit()
    assert client.get("/api/auth/me").status_code == 401
    client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(LoginSession)) == 1  # only the new one
