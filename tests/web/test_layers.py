"""The web layer's layers: routers and pages call services; services know nothing about HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fst.web

WEB = Path(fst.web.__file__).parent


def imported(path: Path) -> set[str]:
    """Every module `path` imports (absolute names; `from a import b` gives `a` and `a.b`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((WEB / "services").glob("*.py")), ids=lambda path: path.name)
def test_services_know_nothing_about_http(path: Path) -> None:
    http = {name for name in imported(path) if name.split(".")[0] in ("fastapi", "starlette")}
    routers = {name for name in imported(path) if name.startswith(("fst.web.routers", "fst.web.deps"))}
    assert not http and not routers, f"{path.name} imports {http | routers}"


@pytest.mark.parametrize("path", sorted((WEB / "routers").glob("*.py")), ids=lambda path: path.name)
def test_routers_are_thin(path: Path) -> None:
    # No queries and no other router: the rules and the database work are in the services.
    names = imported(path)
    assert not {name for name in names if name.split(".")[0] == "sqlalchemy"}, f"{path.name} queries the database"
    assert not {name for name in names if name.startswith("fst.web.routers")}, f"{path.name} imports a router"
