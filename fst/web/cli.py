"""`serve.py`'s commands: serve (web + embedded workers), worker (workers only), admin."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sqlalchemy import select

from fst.web.settings import Settings, from_env


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="serve.py",
        description="The fst web service. Every option also reads an environment variable (FST_WEB_<NAME>).",
    )
    parser.add_argument("--host", help="address to listen on (FST_WEB_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (FST_WEB_PORT, default 8000)")
    parser.add_argument("--data-dir", help="database, uploads, results, queue (FST_WEB_DATA_DIR, default ./var)")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://u:p@db/fst (FST_WEB_DATABASE_URL; default SQLite)",
    )
    parser.add_argument("--queue-url", help="redis://host:6379/0 at scale (FST_WEB_QUEUE_URL; default SQLite)")
    parser.add_argument("--workers", type=int, help="queue worker threads (FST_WEB_WORKERS, default 1; 0: web only)")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("worker", help="run queue workers only (no web server): the GPU machines at scale")
    admin = commands.add_parser("admin", help="accounts: list users, grant credits")
    actions = admin.add_subparsers(dest="action", required=True)
    actions.add_parser("users", help="list users with their credits and jobs")
    grant = actions.add_parser("grant", help="add credits to a user")
    grant.add_argument("email")
    grant.add_argument("credits", type=int)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    return from_env(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        database_url=args.database_url,
        queue_url=args.queue_url,
        workers=args.workers,
    )


def _admin(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import func

    from fst.web.db import Job, User
    from fst.web.services import open_services

    services = open_services(settings)
    with services.factory() as session:
        if args.action == "users":
            jobs = dict(session.execute(select(Job.user_id, func.count(Job.id)).group_by(Job.user_id)).all())
            print(f"{'id':>5}  {'credits':>7}  {'jobs':>5}  email")
            for user in session.scalars(select(User).order_by(User.id)):
                print(f"{user.id:>5}  {user.credits:>7}  {jobs.get(user.id, 0):>5}  {user.email}")
            return 0
        user = session.scalar(select(User).where(User.email == args.email.strip().lower()))
        if user is None:
            print(f"error: no user {args.email!r}", file=sys.stderr)
            return 1
        user.credits += args.credits
        session.commit()
        print(f"{user.email}: {user.credits} credits")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = settings_from_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin list at every start is noise
    if args.command == "admin":
        return _admin(settings, args)
    if args.command == "worker":
        from fst.web.services import open_services
        from fst.web.worker import WorkerRuntime

        services = open_services(settings)
        WorkerRuntime(settings, services.factory, services.queue, max(1, settings.workers)).run()
        return 0
    import uvicorn

    from fst.web.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, proxy_headers=True)
    return 0
