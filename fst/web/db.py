"""The database setup: engine, sessions and migrations (SQLAlchemy 2, Alembic); the tables are in
`fst.web.models`.

The schema is owned by the migrations in `fst/web/migrations/`. `serve.py` upgrades the database
to the newest one at every start (the embedded SQLite setup needs nothing else). After changing a
model, generate its migration from the repository root and review it:

    alembic -c fst/web/alembic.ini upgrade head          # the database the settings name, at head
    alembic -c fst/web/alembic.ini revision --autogenerate --rev-id 0002 -m "what changed"

Both read the same settings as the service (`FST_WEB_DATABASE_URL`, else SQLite in
`FST_WEB_DATA_DIR`); `--rev-id` keeps the files numbered. `tests/web/test_db.py` fails while a model
differs from the migrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")  # its script_location is the migrations beside it


def make_engine(url: str, pool_size: int = 10, max_overflow: int = 30, pool_timeout_s: float = 30.0) -> Engine:
    """An engine; SQLite gets WAL and a busy timeout so the web and worker threads can share it.

    A request never holds a connection while it waits for a thread (`fst.web.deps.ReleasingRoute`),
    so the pool only needs one connection per thread that runs at once (FastAPI's 40).
    """
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout_s}
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, **pool)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection: Any, _record: Any) -> None:  # DB-API objects
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def migrate(url: str) -> None:
    """Bring the database to the newest schema (Alembic `upgrade head`); safe to run at every start."""
    command.upgrade(alembic_config(url), "head")


def alembic_config(url: str) -> Config:
    """The package's `alembic.ini`, pointed at `url` (what `migrate` and the tests run Alembic with)."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # `%` is interpolation in .ini files
    return config


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session
