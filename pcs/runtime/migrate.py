"""Apply the schema: Alembic migrations are the only way the schema comes to exist."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

# The source tree's root (pcs/runtime/ is two levels below it).
ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    config = Config(str(_ini_path()))
    config.set_main_option("script_location", str(_script_location()))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def _ini_path() -> Path:
    packaged = Path(__file__).resolve().parents[1] / "alembic.ini"
    return packaged if packaged.exists() else ROOT / "alembic.ini"


def _script_location() -> Path:
    packaged = Path(__file__).resolve().parents[1] / "migrations"
    return packaged if packaged.exists() else ROOT / "migrations"
