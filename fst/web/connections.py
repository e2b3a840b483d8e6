"""What request handlers and workers share: the settings and the connections to the database and queue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from fst.web import db
from fst.web.queue import JobQueue
from fst.web.settings import Settings


@dataclass
class Connections:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    queue: JobQueue


def connect(settings: Settings) -> Connections:
    """Connect to the database (migrated to the newest schema) and the queue."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    db.migrate(url)  # the default: a fresh or older database is brought to head at every start
    engine = db.make_engine(url, settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout_s)
    return Connections(settings, engine, db.session_factory(engine), JobQueue(settings.resolved_queue_url()))
