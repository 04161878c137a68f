"""Settings: the one place that reads the process environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class Settings(BaseModel):
    """Everything stagger-bot takes from its environment, read once at start."""

    model_config = ConfigDict(frozen=True)

    config_path: Path = Path("stagger.toml")
    db_path: Path = Path("stagger.db")
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
    # The DSN variables named by each environment's `database_url_env`, kept as secrets.
    database_urls: Mapping[str, SecretStr] = {}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        values = os.environ if environ is None else environ
        api_url = values.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        if not api_url.endswith("/"):
            api_url += "/"
        return cls(
            config_path=Path(values.get("STAGGER_CONFIG") or "stagger.toml"),
            db_path=Path(values.get("STAGGER_DB") or "stagger.db"),
            db_busy_timeout_s=float(values.get("STAGGER_DB_BUSY_TIMEOUT_S") or 10.0),
            port=int(values.get("PORT") or 3000),
            slack_bot_token=_secret(values.get("SLACK_BOT_TOKEN")),
            slack_signing_secret=_secret(values.get("SLACK_SIGNING_SECRET")),
            slack_app_token=_secret(values.get("SLACK_APP_TOKEN")),
            slack_api_url=api_url,
            slack_timeout_s=int(values.get("SLACK_TIMEOUT_S") or 10),
            database_urls={
                name: SecretStr(value)
                for name, value in values.items()
                if name.endswith("DATABASE_URL") and value
            },
        )


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None
