"""The database layer: migrations up and down, and a pool as large as the request thread pool."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from fst.web import db


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def test_migrations_upgrade_downgrade_upgrade(database_url: str) -> None:
    db.migrate(database_url)
    db.migrate(database_url)  # at every start: a no-op the second time
    engine = db.make_engine(database_url)
    assert {"users", "jobs", "login_sessions", "stripe_events", "rate_events"} <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(database_url), "base")
    assert "jobs" not in inspect(engine).get_table_names()
    db.migrate(database_url)
    assert "jobs" in inspect(engine).get_table_names()
    engine.dispose()


def test_pool_serves_every_request_thread_at_once(database_url: str) -> None:
    # FastAPI runs sync handlers on 40 threads; a pool of 15 made a load test fail with pool timeouts.
    db.migrate(database_url)
    engine = db.make_engine(database_url)
    connections = [engine.connect() for _ in range(40)]
    assert len(connections) == 40
    for connection in connections:
        connection.close()
    engine.dispose()


def test_no_connection_is_held_between_authentication_and_the_endpoint(settings) -> None:
    # Held across the thread-pool hop to the endpoint, connections deadlocked the load test.
    from dataclasses import replace
    from types import SimpleNamespace

    from fst.web import deps
    from tests.web.conftest import make_client, register

    with make_client(replace(settings, workers=0)) as client:  # no worker threads using the pool
        register(client)
        services = client.app.state.services
        request = SimpleNamespace(cookies={"fst_session": client.cookies.get("fst_session")})
        with services.factory() as session:
            user = deps.optional_user(request, session)
            assert user.email == "ada@example.com" and user.credits == 3  # still loaded
            assert services.engine.pool.checkedout() == 0
