"""The Maildir backend, written by the site and read back by tests and the load benchmark."""

from __future__ import annotations

import time
from pathlib import Path

from fst.web.mail import links_in_inbox, message, send
from fst.web.settings import Settings


def test_links_come_back_oldest_first_by_kind_and_recipient(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="test-secret-key")
    site = "http://site.example"
    letters = [
        ("ada@example.com", f"confirm: {site}/verify?token=v1"),
        ("bob@example.com", f"confirm: {site}/verify?token=b1"),
        ("ada@example.com", f"log in at {site}/login, or choose a new one:\n\n{site}/reset?token=r1\n\n"),
        ("ada@example.com", f"confirm: {site}/verify?token=v2"),
    ]
    for to, body in letters:
        send(settings, message(settings, to, "fst", body))
        time.sleep(0.01)  # Maildir names order deliveries by time
    ada = links_in_inbox(tmp_path, "ada@example.com")
    assert [(link.kind, link.token) for link in ada] == [("verify", "v1"), ("reset", "r1"), ("verify", "v2")]
    assert ada[1].url == f"{site}/reset?token=r1"
    assert [link.token for link in links_in_inbox(tmp_path, "ada@example.com", "reset")] == ["r1"]
    assert [link.token for link in links_in_inbox(tmp_path, "bob@example.com")] == ["b1"]
    assert links_in_inbox(tmp_path, "eve@example.com") == []
