"""Service settings: one `pydantic-settings` class is the single source of defaults, environment
variables (`FST_WEB_<NAME>`) and `serve.py`'s options (derived from the fields in `fst.web.cli`).

Precedence: command line, then environment, then the defaults below. Every value is validated at
start, and a bad one stops the service with a message naming its variable.

Secrets never have a default that works in production: the secret key is generated once and kept
in the data directory when unset; Stripe keys are absent unless given, which means free mode.
Secrets are read from the environment only, never the command line (visible in `ps`).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from fst import resources

ENV_PREFIX = "FST_WEB_"
NOT_ON_COMMAND_LINE = {"cli": False}  # `json_schema_extra` marker read by `fst.web.cli`


def _default_paintings() -> Path | None:
    # Without shared assets (an installed package) there is no gallery; the site works without it.
    assets = resources.assets_dir()
    return assets / "paintings" if assets else None


def _env_or(*names: str) -> AliasChoices:
    """Accept `FST_WEB_<NAME>` and the conventional unprefixed names (`DATABASE_URL`, `STRIPE_...`)."""
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything the app, the worker and the admin commands read."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", populate_by_name=True, validate_default=True
    )

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=1, le=65535, description="port")
    data_dir: Path = Field(Path("var"), description="database, uploads, results, queue")
    database_url: str = Field(
        "",
        validation_alias=_env_or("FST_WEB_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL, e.g. postgresql+psycopg://u:p@db/fst; empty: SQLite in the data dir",
    )
    queue_url: str = Field("", description="redis://host:6379/0 at scale; empty: Huey's SQLite queue in the data dir")
    workers: int = Field(1, ge=0, description="queue worker threads in this process; 0 runs the web server only")
    secret_key: str = Field(
        "",
        repr=False,
        json_schema_extra=NOT_ON_COMMAND_LINE,
        description="signs CSRF tokens; empty: generated once and kept in <data_dir>/secret_key",
    )
    checkpoints_dir: Path = Field(
        default_factory=resources.checkpoints_dir, description="the styles on offer (default: fst's shipped ones)"
    )
    paintings_dir: Path | None = Field(
        default_factory=_default_paintings,
        description="the gallery of paintings to pick as a style image (default: <FST_ASSETS>/paintings)",
    )
    secure_cookies: bool = Field(False, description="behind HTTPS: the session cookie gets `Secure`")
    free_credits: int = Field(5, ge=0, description="credits a new account gets in billing mode")
    credits_per_purchase: int = Field(20, gt=0, description="credits one Stripe payment buys")
    price_cents: int = Field(500, gt=0, description="the price of one purchase, in cents")
    currency: str = Field("eur", pattern=r"^[a-z]{3}$", description="ISO 4217 code, lower case")
    stripe_secret_key: str = Field(
        "",
        repr=False,
        validation_alias=_env_or("STRIPE_SECRET_KEY", "FST_WEB_STRIPE_SECRET_KEY"),
        json_schema_extra=NOT_ON_COMMAND_LINE,
    )
    stripe_webhook_secret: str = Field(
        "",
        repr=False,
        validation_alias=_env_or("STRIPE_WEBHOOK_SECRET", "FST_WEB_STRIPE_WEBHOOK_SECRET"),
        json_schema_extra=NOT_ON_COMMAND_LINE,
    )
    # Each request thread (FastAPI runs sync handlers on 40) holds at most one connection, and only
    # while it runs: 40 in all covers them; more only lets the database's own limit be reached. All
    # 40 are kept (opened as needed, then reused): with 10 kept and 30 overflow, a load of 20 users
    # opened and closed a PostgreSQL connection (a server process) for most requests (load test:
    # jobs/s 0.85 -> 0.88 of the worker's rate).
    db_pool_size: int = Field(40, ge=1, description="database connections kept open per process (opened as needed)")
    db_max_overflow: int = Field(0, ge=0, description="connections opened beyond the pool under load, then closed")
    db_pool_timeout_s: float = Field(30.0, gt=0, description="seconds a request waits for a connection, then fails")
    max_upload_bytes: int = Field(15 * 1024 * 1024, gt=0, description="largest photo or style image, in bytes")
    # Checked from the image header, before any pixel is decoded (decompression bombs).
    max_upload_pixels: int = Field(24_000_000, gt=0, description="largest photo, in pixels")
    upload_slots: int = Field(4, ge=1, description="uploads checked and stored at once; the others wait their turn")
    # Below the usual client time-out (30 s): an answer later than that is not read.
    upload_wait_s: float = Field(20.0, gt=0, description="seconds an upload waits for its turn, then 503 + Retry-After")
    uploads_per_minute: int = Field(30, gt=0, description="submissions per user and minute")
    logins_per_minute: int = Field(10, gt=0, description="failed logins per address and e-mail and minute")
    # In billing mode every account gets the free credits: unthrottled sign-ups would hand them out.
    signups_per_hour: int = Field(5, gt=0, description="sign-ups per client address and hour")
    signups_per_hour_per_network: int = Field(
        20, gt=0, description="sign-ups per network (IPv4 /24, IPv6 /64) and hour"
    )
    resets_per_hour: int = Field(
        5, gt=0, description="password-reset requests per client address, and per e-mail, and hour"
    )
    # E-mailed links point here, never at the request's Host header (a forged Host would send a
    # victim's reset token to the forger's site).
    public_url: str = Field(
        "",
        pattern=r"^(https?://[^/?#\s]+)?$",
        description="the site's address in e-mailed links; empty: http://<host>:<port>",
    )
    mail_from: str = Field("fst <no-reply@localhost>", description="the sender of the site's e-mails")
    smtp_host: str = Field(
        "", description="SMTP server for the site's e-mails; empty: written to <data_dir>/mail (a Maildir)"
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port")
    smtp_security: Literal["starttls", "ssl", "none"] = Field("starttls", description="SMTP transport security")
    smtp_username: str = Field("", description="SMTP login; empty: none")
    smtp_password: str = Field("", repr=False, json_schema_extra=NOT_ON_COMMAND_LINE)
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", description="where the worker runs nets")
    # auto: a cached compiled package is used; on GPUs a missing one is built (a CPU build takes a minute).
    compile: Literal["auto", "on", "off"] = Field("auto", description="compile the nets (torch.export/AOTInductor)")
    # On a CPU shared with other jobs, fewer threads can be much faster (threads of one op wait for each other).
    torch_threads: int = Field(0, ge=0, description="the worker's intra-op threads; 0 keeps torch's default")
    job_lease_s: float = Field(
        120.0, gt=0, description="a running job whose worker stopped heart-beating is retried after this"
    )
    job_stall_s: float = Field(0.0, ge=0, json_schema_extra=NOT_ON_COMMAND_LINE, description="crash tests only")

    @property
    def billing_enabled(self) -> bool:
        """Stripe keys configured: jobs cost credits. Without them the site runs in free mode."""
        return bool(self.stripe_secret_key and self.stripe_webhook_secret)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'fst.db').resolve()}"

    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def resolved_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{(self.data_dir / 'queue.db').resolve()}"

    def with_secret(self) -> Settings:
        """This settings object with a secret key: given, or generated once and kept in the data dir."""
        if self.secret_key:
            return self
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two processes starting at once cannot write two different keys.
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
            except FileExistsError:
                pass
        return self.model_copy(update={"secret_key": path.read_text().strip()})

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`, validated like the original (`model_copy` would not validate)."""
        return _build({**self.model_dump(), **changes})


class SettingsError(ValueError):
    """Invalid settings; the message has one line per bad value, naming its variable and option."""


def env_names(name: str) -> list[str]:
    """The environment variables that set field `name`, most specific first."""
    alias = Settings.model_fields[name].validation_alias
    return list(alias.choices) if isinstance(alias, AliasChoices) else [f"{ENV_PREFIX}{name.upper()}"]  # type: ignore[arg-type]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, then `overrides` (the command line; None means not given).

    Raises:
        SettingsError: a value is invalid (each bad one named by its variable and option).
    """
    return _build({name: value for name, value in overrides.items() if value is not None})


def _build(values: dict[str, Any]) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as error:
        raise SettingsError(_explain(error)) from None


def _explain(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        # An alias (a variable's name) in `loc` maps back to its field.
        field = next((name for name in Settings.model_fields if field in [name, *env_names(name)]), field)
        known = field in Settings.model_fields
        where = " / ".join([*env_names(field), f"--{field.replace('_', '-')}"]) if known else field
        lines.append(f"{where}: {problem['msg']} (got {problem.get('input')!r})")
    return "invalid settings:\n  " + "\n  ".join(lines)
