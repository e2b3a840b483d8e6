"""Bad uploads: each gets one clear error, costs no credit and leaves no file behind."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
from PIL import Image

from tests.web.conftest import image_bytes, make_client, register, submit


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit PNG of width x height zeros: ~50 KB on disk, 400 megapixels decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def bmp_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, format="BMP")
    return buffer.getvalue()


def stored_uploads(client) -> list:
    root = client.app.state.connections.settings.data_dir / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize(
    ("name", "make", "status", "message"),
    [
        ("not an image", lambda: b"hello, I am text" * 10, 400, "not a JPEG, PNG or WebP"),
        ("zero bytes", lambda: b"", 400, "empty"),
        ("truncated", lambda: (lambda d: d[: len(d) // 2])(image_bytes(256, 256, "JPEG")), 400, "cannot be decoded"),
        ("decompression bomb", png_bomb, 413, "megapixels"),
        ("bomb past PIL's own limit", lambda: png_bomb(30_000, 30_000), 413, "megapixels"),
        ("BMP", bmp_bytes, 400, "BMP image"),
    ],
)
def test_bad_upload_is_one_clear_error_and_free(client, name, make, status, message) -> None:
    register(client)
    response = submit(client, make())
    assert response.status_code == status, (name, response.text)
    assert message in response.json()["detail"]
    assert client.get("/api/auth/me").json()["credits"] == 3
    assert client.get("/api/jobs").json()["jobs"] == []
    assert stored_uploads(client) == []


def test_oversized_upload_is_413(settings) -> None:
    with make_client(settings.replace(max_upload_bytes=20_000)) as client:
        register(client)
        buffer = io.BytesIO()
        Image.frombytes("RGB", (200, 200), os.urandom(120_000)).save(buffer, format="PNG")  # noise: ~120 kB
        response = submit(client, buffer.getvalue())
        assert response.status_code == 413 and "larger than" in response.json()["detail"]
        assert client.get("/api/auth/me").json()["credits"] == 3
        huge = {"photo": ("p.png", b"\0" * 1_100_000, "image/png")}  # over two images plus the form
        refused = client.post("/api/jobs", files=huge, data={"style": "starry_night"})
        assert refused.status_code == 413 and refused.json()["detail"] == "the upload is too large"


def test_file_names_never_reach_the_file_system(client) -> None:
    register(client)
    files = {"photo": ("../../../etc/evil name;rm.png", image_bytes(), "image/png")}
    assert client.post("/api/jobs", files=files, data={"style": "starry_night"}).status_code == 201
    (stored,) = stored_uploads(client)
    assert "evil" not in str(stored) and stored.name.endswith("-photo.png")
    assert stored.parent == client.app.state.connections.settings.data_dir / "uploads" / "1"


def test_uploads_are_rate_limited_per_user(settings) -> None:
    with make_client(settings.replace(uploads_per_minute=2)) as client:
        register(client)
        assert submit(client).status_code == 201
        assert submit(client, b"").status_code == 400  # a rejected upload counts too
        limited = submit(client)
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
        client.post("/api/auth/logout")
        register(client, "other@example.com")  # per user: another account may upload
        assert submit(client).status_code == 201
