"""Service settings: every value from the environment (`FST_WEB_*`) with a safe default.

Secrets never have a default that works in production: the secret key is generated once and kept
in the data directory when unset; Stripe keys are absent unless given, which means free mode.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fst import resources

REPO = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    return os.environ.get(f"FST_WEB_{name}", default)


@dataclass(frozen=True)
class Settings:
    """Everything the app, the worker and the admin commands read."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite in the data dir
    queue_url: str = ""  # empty: Huey's SQLite queue in the data dir; redis://... at scale
    workers: int = 1  # embedded queue consumers in `serve.py`; 0 runs the web process only
    secret_key: str = ""  # empty: generated once and kept in <data_dir>/secret_key
    checkpoints_dir: Path = field(default_factory=resources.checkpoints_dir)  # $FST_CHECKPOINTS or shipped
    paintings_dir: Path = REPO.parent / "shared" / "assets" / "paintings"
    secure_cookies: bool = False  # set behind HTTPS: the session cookie gets `Secure`
    free_credits: int = 5
    credits_per_purchase: int = 20
    price_cents: int = 500
    currency: str = "eur"
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    max_upload_bytes: int = 15 * 1024 * 1024
    max_upload_pixels: int = 24_000_000  # checked from the header, before any pixel is decoded
    uploads_per_minute: int = 30
    logins_per_minute: int = 10  # failed attempts per address and e-mail
    device: str = "auto"
    compile: str = "auto"  # auto: a cached compiled package is used; on GPUs a missing one is built
    torch_threads: int = 0  # the worker's intra-op threads; 0 keeps torch's default (one per core)
    job_lease_s: float = 120.0  # a running job whose worker stopped heart-beating is retried after this
    job_stall_s: float = 0.0  # for crash tests only: sleep this long inside each job

    @property
    def billing_enabled(self) -> bool:
        """Stripe keys configured: jobs cost credits. Without them the site runs in free mode."""
        return bool(self.stripe_secret_key and self.stripe_webhook_secret)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'fst.db').resolve()}"

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
        return replace(self, secret_key=path.read_text().strip())


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def from_env(**overrides: Any) -> Settings:
    """Settings from `FST_WEB_*` variables (and `DATABASE_URL`), then explicit overrides (the CLI)."""
    defaults = Settings()
    values: dict[str, Any] = {
        "host": _env("HOST", defaults.host),
        "port": int(_env("PORT", str(defaults.port))),
        "data_dir": Path(_env("DATA_DIR", str(defaults.data_dir))),
        "database_url": _env("DATABASE_URL", os.environ.get("DATABASE_URL", "")),
        "queue_url": _env("QUEUE_URL", ""),
        "workers": int(_env("WORKERS", str(defaults.workers))),
        "secret_key": _env("SECRET_KEY", ""),
        "checkpoints_dir": Path(_env("CHECKPOINTS_DIR", str(defaults.checkpoints_dir))),
        "paintings_dir": Path(_env("PAINTINGS_DIR", str(defaults.paintings_dir))),
        "secure_cookies": _bool(_env("SECURE_COOKIES", "0")),
        "free_credits": int(_env("FREE_CREDITS", str(defaults.free_credits))),
        "credits_per_purchase": int(_env("CREDITS_PER_PURCHASE", str(defaults.credits_per_purchase))),
        "price_cents": int(_env("PRICE_CENTS", str(defaults.price_cents))),
        "currency": _env("CURRENCY", defaults.currency),
        "stripe_secret_key": os.environ.get("STRIPE_SECRET_KEY", ""),
        "stripe_webhook_secret": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        "max_upload_bytes": int(_env("MAX_UPLOAD_BYTES", str(defaults.max_upload_bytes))),
        "max_upload_pixels": int(_env("MAX_UPLOAD_PIXELS", str(defaults.max_upload_pixels))),
        "uploads_per_minute": int(_env("UPLOADS_PER_MINUTE", str(defaults.uploads_per_minute))),
        "logins_per_minute": int(_env("LOGINS_PER_MINUTE", str(defaults.logins_per_minute))),
        "device": _env("DEVICE", defaults.device),
        "compile": _env("COMPILE", defaults.compile),
        "torch_threads": int(_env("TORCH_THREADS", "0")),
        "job_lease_s": float(_env("JOB_LEASE_S", str(defaults.job_lease_s))),
        "job_stall_s": float(_env("JOB_STALL_S", "0")),
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    return Settings(**values)
