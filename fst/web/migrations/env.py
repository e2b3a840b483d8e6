"""Alembic environment: the URL comes from the caller (`fst.web.db.migrate`), else the service's
settings, so `alembic -c fst/web/alembic.ini ...` works on the database `serve.py` uses."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from fst.web.models import Base

config = context.config
if not config.get_main_option("sqlalchemy.url"):
    from fst.web.settings import load_settings

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # where the default SQLite file goes
    config.set_main_option("sqlalchemy.url", settings.resolved_database_url().replace("%", "%%"))
if config.cmd_opts is not None and config.config_file_name:  # the alembic command line, not `serve.py`
    fileConfig(config.config_file_name, disable_existing_loggers=False)

connectable = engine_from_config(
    config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with connectable.connect() as connection:
    # Batch mode: SQLite cannot ALTER most things, so changes are made by copying the table.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
