"""Alembic environment: the URL comes from the caller (pcs.runtime.migrate) or PCS_DATABASE_URL."""
from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from pcs.db import sqlalchemy_url
from pcs.models import Base

config = context.config
url = config.attributes.get("database_url") or os.environ.get("PCS_DATABASE_URL")
if not url:
    raise SystemExit("PCS_DATABASE_URL is not set")

engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
