"""Running Alembic programmatically against a given database URL. The application hands over
its migrations folder; the kernel never imports it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config


@dataclass(frozen=True)
class Migrations:
    directory: Path

    def config(self, database_url: str) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.directory))
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
        return config

    def upgrade(self, database_url: str, revision: str = "head") -> None:
        command.upgrade(self.config(database_url), revision)

    def downgrade(self, database_url: str, revision: str = "base") -> None:
        command.downgrade(self.config(database_url), revision)
