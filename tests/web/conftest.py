"""Fixtures: a fresh app per test on SQLite, and on PostgreSQL when `FST_TEST_DATABASE_URL` is set
(`.ci/run` always sets it), with its embedded worker running tiny jobs on the CPU."""

from __future__ import annotations

import io
import mailbox
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import create_engine, text

from fst import resources
from fst.web.app import create_app
from fst.web.settings import Settings

REPO = Path(__file__).resolve().parents[2]  # the checkout the tests run in (benchmarks, serve.py, git)
POSTGRES_URL = os.environ.get("FST_TEST_DATABASE_URL", "")
WEBHOOK_SECRET = "whsec_test_only_not_a_real_secret"
PASSWORD = "correct horse battery"


def reset_postgres(url: str) -> None:
    """An empty public schema: each test migrates from nothing."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fst.db'}"
    if not POSTGRES_URL:
        pytest.skip("FST_TEST_DATABASE_URL is not set (.ci/run sets it)")
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        workers=1,
        secret_key="test-secret-key",
        checkpoints_dir=resources.checkpoints_dir(),
        paintings_dir=tmp_path / "no-paintings",
        free_credits=3,
        stripe_secret_key="sk_test_not_used_offline",
        stripe_webhook_secret=WEBHOOK_SECRET,
        device="cpu",
        compile="off",
        job_lease_s=4.0,
        uploads_per_minute=50,
        logins_per_minute=5,
        signups_per_hour=20,  # tests sign up several accounts from one address
        signups_per_hour_per_network=40,
    )


def make_client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://testserver")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with make_client(settings) as test_client:
        yield test_client


@pytest.fixture
def free_client(settings: Settings) -> Iterator[TestClient]:
    with make_client(settings.replace(stripe_secret_key="", stripe_webhook_secret="")) as test_client:
        yield test_client


def image_bytes(width: int = 64, height: int = 48, fmt: str = "PNG") -> bytes:
    image = Image.new("RGB", (width, height))
    for x in range(width):  # a gradient: not flat, so the net has something to work on
        for y in range(0, height, 4):
            image.putpixel((x, y), (x * 4 % 256, y * 5 % 256, 128))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def register(client: TestClient, email: str = "ada@example.com", password: str = PASSWORD, verify: bool = True) -> dict:
    """Sign up; with `verify`, open the e-mailed link, which confirms the address and signs in (the
    free credits come with it; this client holds the sign-up cookie): returns the account. Without,
    returns the sign-up's answer (no session)."""
    response = client.post("/api/auth/register", json={"email": email, "password": password})
    assert response.status_code == 202, response.text
    if not verify:
        return response.json()
    verified = client.post("/api/auth/verify", json={"token": mailed_token(client, email, "verify")})
    assert verified.status_code == 200, verified.text
    return verified.json()


def mails(client: TestClient, to: str) -> list:
    """The messages the site wrote to its Maildir for `to`, oldest first."""
    folder = client.app.state.connections.settings.data_dir / "mail"
    box = mailbox.Maildir(folder, create=True)
    # Maildir names start "<seconds>.M<microseconds>P...": the delivery order.
    order = sorted(box.keys(), key=lambda key: tuple(int(n) for n in re.findall(r"\d+", key)[:2]))
    return [box[key] for key in order if box[key]["To"] == to.lower()]


def mailed_token(client: TestClient, to: str, kind: str) -> str:
    """The token of the newest `/verify` or `/reset` link e-mailed to `to`."""
    found = mails(client, to)
    assert found, f"no e-mail to {to}"
    link = re.search(rf"/{kind}\?token=([A-Za-z0-9_-]+)", found[-1].get_payload(decode=True).decode())
    assert link, found[-1].get_payload()
    return link.group(1)


def submit(client: TestClient, data: bytes | None = None, style: str = "starry_night", **form) -> dict:
    files = {"photo": ("photo.png", data if data is not None else image_bytes(), "image/png")}
    return client.post("/api/jobs", files=files, data={"style": style, **form})


def wait_job(client: TestClient, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end within {timeout} s: {job}")
