"""The schema exists only through migrations, and they match the models."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from pcs.db import sqlalchemy_url
from pcs.models import Base

pytestmark = pytest.mark.integration


def test_migrations_match_the_models(database_url):
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_one_active_task_per_component_is_a_partial_unique_index(database_url):
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.connect() as connection:
        definition = connection.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_task_active_component'")
        ).scalar_one()
    engine.dispose()
    assert definition.startswith("CREATE UNIQUE INDEX")
    assert "(component_id)" in definition
    for state in ("ready", "dispatched", "running", "deferred"):
        assert f"'{state}'" in definition
    assert "'queued'" not in definition
