"""Settings: the one place that reads the process environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from bot.core.audit_key import KEY_VARIABLE, OLD_KEYS_VARIABLE, AuditKeys, parse_keys
from bot.core.store_location import is_dsn

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class Settings(BaseModel):
    """Everything stagger-bot takes from its environment, read once at start."""

    model_config = ConfigDict(frozen=True)

    config_path: Path = Path("stagger.toml")
    db_path: Path = Path("stagger.db")
    # STAGGER_DB as a PostgreSQL DSN (postgresql://...): the store is there, not in db_path.
    db_url: SecretStr | None = None
    # How long a write waits for another process holding the store's lock before the
    # command is answered with the error.
    db_busy_timeout_s: float = 10.0
    port: int = 3000
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    # A Web API call that has not answered in this many seconds is given up and its post
    # queued in the outbox: the bot's work never waits long on Slack.
    slack_timeout_s: int = 10
    # When set, a request from Slack naming another workspace or app is refused.
    slack_team_id: str | None = None
    slack_app_id: str | None = None
    # The DSN variables named by each environment's `database_url_env`, kept as secrets.
    database_urls: Mapping[str, SecretStr] = {}
    # STAGGER_AUDIT_KEY signs the audit trail; STAGGER_AUDIT_OLD_KEYS (comma-separated)
    # are retired keys, kept to verify the entries they signed. Parsed by `audit_keys`,
    # so the commands that need no key start without one.
    audit_key: SecretStr | None = None
    audit_old_keys: SecretStr | None = None
    # NO_COLOR (no-color.org): the rehearsal prints no colour, even on a terminal.
    no_color: bool = False
    # A testing knob (STAGGER_CHECKPOINTS_EVERY_S): how often the checkpoints job looks
    # for a due slot. A fault test sees a replica that took over post the next slot
    # within seconds of it; production keeps the minute.
    checkpoints_every_s: int = 60

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        values = os.environ if environ is None else environ
        api_url = values.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        if not api_url.endswith("/"):
            api_url += "/"
        store = values.get("STAGGER_DB") or "stagger.db"
        return cls(
            config_path=Path(values.get("STAGGER_CONFIG") or "stagger.toml"),
            db_path=Path(store if not is_dsn(store) else "stagger.db"),
            db_url=SecretStr(store) if is_dsn(store) else None,
            db_busy_timeout_s=float(values.get("STAGGER_DB_BUSY_TIMEOUT_S") or 10.0),
            port=int(values.get("PORT") or 3000),
            slack_bot_token=_secret(values.get("SLACK_BOT_TOKEN")),
            slack_signing_secret=_secret(values.get("SLACK_SIGNING_SECRET")),
            slack_app_token=_secret(values.get("SLACK_APP_TOKEN")),
            slack_api_url=api_url,
            slack_timeout_s=int(values.get("SLACK_TIMEOUT_S") or 10),
            slack_team_id=values.get("SLACK_TEAM_ID") or None,
            slack_app_id=values.get("SLACK_APP_ID") or None,
            database_urls={
                name: SecretStr(value)
                for name, value in values.items()
                if name.endswith("DATABASE_URL") and value
            },
            audit_key=_secret(values.get(KEY_VARIABLE)),
            audit_old_keys=_secret(values.get(OLD_KEYS_VARIABLE)),
            no_color=bool(values.get("NO_COLOR")),
            checkpoints_every_s=int(values.get("STAGGER_CHECKPOINTS_EVERY_S") or 60),
        )

    def store_location(self) -> Path | str:
        """STAGGER_DB: the SQLite file, or the PostgreSQL DSN."""
        return self.db_url.get_secret_value() if self.db_url is not None else self.db_path

    def audit_keys(self) -> AuditKeys:
        """The audit trail's keys; a ConfigError says how to set a missing or bad one."""
        return parse_keys(
            self.audit_key.get_secret_value() if self.audit_key else None,
            self.audit_old_keys.get_secret_value() if self.audit_old_keys else None,
        )


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None
