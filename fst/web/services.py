"""What request handlers and workers share: settings, the database and the queue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from fst.web import db
from fst.web.queue import JobQueue
from fst.web.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    queue: JobQueue


def open_services(settings: Settings) -> Services:
    """Connect to the database (migrated to the newest schema) and the queue."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    db.migrate(url)
    engine = db.make_engine(url)
    return Services(settings, engine, db.session_factory(engine), JobQueue(settings.resolved_queue_url()))
