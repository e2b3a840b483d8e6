"""`serve.py admin`: list users, grant credits."""

from __future__ import annotations

from fst.web.cli import main
from tests.web.conftest import register


def test_admin_lists_users_and_grants_credits(client, settings, capsys) -> None:
    register(client, "ada@example.com")
    common = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url()]
    assert main([*common, "admin", "grant", "ADA@example.com", "7"]) == 0
    assert "ada@example.com: 10 credits" in capsys.readouterr().out
    assert client.get("/api/auth/me").json()["credits"] == 10
    assert main([*common, "admin", "users"]) == 0
    assert "ada@example.com" in capsys.readouterr().out
    assert main([*common, "admin", "grant", "nobody@example.com", "1"]) == 1
