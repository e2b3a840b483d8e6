"""The database layer: migrations up and down and in step with the models, and a pool as large as
the request thread pool."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect

from fst.web import db
from fst.web.models import Base


def schema_differences(url: str, metadata: MetaData = Base.metadata) -> list:
    """What `alembic revision --autogenerate` would write: the models against the migrated database."""
    engine = db.make_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    return differences


def test_migrations_upgrade_downgrade_upgrade(database_url: str) -> None:
    db.migrate(database_url)
    db.migrate(database_url)  # at every start: a no-op the second time
    engine = db.make_engine(database_url)
    assert {"users", "jobs", "login_sessions", "stripe_events", "rate_events"} <= set(inspect(engine).get_table_names())
    command.downgrade(db.alembic_config(database_url), "base")
    assert "jobs" not in inspect(engine).get_table_names()
    db.migrate(database_url)
    assert "jobs" in inspect(engine).get_table_names()
    engine.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    # Fails when a model changes without its migration: run the autogenerate command in fst.web.db.
    db.migrate(database_url)
    assert schema_differences(database_url) == []


def test_a_model_change_without_a_migration_is_found(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fst.db'}"
    db.migrate(url)
    changed = MetaData()  # a copy of the models with one more column (the real ones stay as they are)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["jobs"].append_column(Column("priority", Integer, nullable=True))
    differences = schema_differences(url, changed)
    assert [(kind, column.name) for kind, *_, column in differences] == [("add_column", "priority")]


def test_alembic_ini_points_at_the_package_migrations() -> None:
    config = db.alembic_config("sqlite://")
    assert config.get_main_option("script_location") == str(db.ALEMBIC_INI.parent / "migrations")
    assert (db.ALEMBIC_INI.parent / "migrations" / "env.py").is_file()


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
    from types import SimpleNamespace

    from fst.web import deps
    from tests.web.conftest import make_client, register

    with make_client(settings.replace(workers=0)) as client:  # no worker threads using the pool
        register(client)
        connections = client.app.state.connections
        request = SimpleNamespace(cookies={"fst_session": client.cookies.get("fst_session")})
        with connections.factory() as session:
            user = deps.optional_user(request, session)
            assert user.email == "ada@example.com" and user.credits == 3  # still loaded
            assert connections.engine.pool.checkedout() == 0
