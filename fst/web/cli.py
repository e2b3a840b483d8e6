"""`serve.py`'s commands: serve (web + embedded workers), worker (workers only), admin.

The options are derived from `fst.web.settings.Settings`: every field (except secrets) is an option
`--<name>` whose help names its environment variable and default, so a new setting needs no edit here.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Literal, get_args, get_origin

from fst.web.settings import Settings, SettingsError, env_names, load_settings


def settings_options() -> list[str]:
    """The settings fields that are command-line options (secrets come from the environment only)."""
    return [
        name
        for name, field in Settings.model_fields.items()
        if not isinstance(field.json_schema_extra, dict) or field.json_schema_extra.get("cli") is not False
    ]


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings", "each also reads the environment variable named in its help")
    for name in settings_options():
        field = Settings.model_fields[name]
        default = field.get_default(call_default_factory=True)
        described = f"{field.description} " if field.description else ""
        text = f"{described}({' or '.join(env_names(name))}; default {default!s})".replace("%", "%%")
        option = f"--{name.replace('_', '-')}"
        # None: not given, so the environment or the default applies; pydantic converts and validates.
        if field.annotation is bool:
            group.add_argument(option, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif get_origin(field.annotation) is Literal:
            group.add_argument(option, choices=get_args(field.annotation), default=None, help=text)
        else:
            group.add_argument(option, default=None, metavar=_metavar(name, field.annotation), help=text)


def _metavar(name: str, annotation: object) -> str:
    if annotation in (int, float):
        return "N"
    if annotation is str:
        return name.split("_")[-1].upper()  # HOST, URL, CURRENCY, DEVICE
    return "PATH"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="serve.py", description="The fst web service.")
    _add_settings_options(parser)
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
    """Command line over environment over defaults; raises `SettingsError` naming a bad value."""
    return load_settings(**{name: getattr(args, name) for name in settings_options()})


def _admin(settings: Settings, args: argparse.Namespace) -> int:
    from fst.web.connections import connect
    from fst.web.services import admin
    from fst.web.services.errors import ServiceError

    connections = connect(settings)
    with connections.factory() as session:
        if args.action == "users":
            print(f"{'id':>5}  {'credits':>7}  {'jobs':>5}  email")
            for row in admin.list_users(session):
                print(f"{row.id:>5}  {row.credits:>7}  {row.jobs:>5}  {row.email}")
            return 0
        try:
            user = admin.grant_credits(session, args.email, args.credits)
        except ServiceError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"{user.email}: {user.credits} credits")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except SettingsError as error:
        print(f"serve.py: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin list at every start is noise
    if args.command == "admin":
        return _admin(settings, args)
    if args.command == "worker":
        from fst.web.connections import connect
        from fst.web.worker import WorkerRuntime

        connections = connect(settings)
        WorkerRuntime(settings, connections.factory, connections.queue, max(1, settings.workers)).run()
        return 0
    import uvicorn

    from fst.web.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, proxy_headers=True)
    return 0
