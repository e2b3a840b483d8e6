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
