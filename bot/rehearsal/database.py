"""The rehearsal's databases: with a DATABASE_URL, a schema per env in that PostgreSQL,
where the simulated app writes its job rows and the bot reads them; dropped afterwards."""

from __future__ import annotations

import secrets
from types import TracebackType

import psycopg
from psycopg.conninfo import make_conninfo

from bot.rehearsal.scenarios import Scenario

# A port nothing listens on: the db-down scenario's prod database.
UNREACHABLE = "postgresql://rehearsal@127.0.0.1:1/unreachable?connect_timeout=2"


class RehearsalDatabases:
    def __init__(self, base_dsn: str | None, envs: list[str]) -> None:
        self.available = base_dsn is not None
        self._base = base_dsn
        token = secrets.token_hex(4)
        self._schemas = {env: f"stagger_rehearsal_{token}_{env.replace('-', '_')}" for env in envs}
        self.dsns: dict[str, str] = {}

    def __enter__(self) -> RehearsalDatabases:
        if self._base is None:
            return self
        with psycopg.connect(self._base, autocommit=True, connect_timeout=5) as connection:
            for env, schema in self._schemas.items():
                connection.execute(f'CREATE SCHEMA "{schema}"')
                self.dsns[env] = make_conninfo(self._base, options=f"-c search_path={schema}")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._base is None or not self.dsns:
            return
        with psycopg.connect(self._base, autocommit=True, connect_timeout=5) as connection:
            for schema in self._schemas.values():
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def bot_dsns(self, scenario: Scenario) -> dict[str, str]:
        """The variables the bot's Settings read: `<ENV>_DATABASE_URL` per env."""
        dsns = dict(self.dsns)
        if scenario.prod_database_down:
            dsns["prod"] = UNREACHABLE
        return {f"{env.upper().replace('-', '_')}_DATABASE_URL": dsn for env, dsn in dsns.items()}
