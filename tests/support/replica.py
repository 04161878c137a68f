"""A replica of the bot whose scheduler leads by the PostgreSQL advisory lock, as a real
process: `python -m tests.support.replica DSN serve PORT` or `... DSN scheduler`.

The production path (`stagger-bot serve`, `stagger-bot scheduler`) with one difference:
this branch's store is SQLite (STAGGER_DB, one file the replicas share), so the DSN that
selects the advisory lock comes on the command line instead of in STAGGER_DB.
"""

from __future__ import annotations

import sys

from pydantic import SecretStr

from bot import serving
from bot.core.spec import load_spec
from bot.runtime import configure_logging
from bot.settings import Settings


def main(dsn: str, process: str, *arguments: str) -> None:
    settings = Settings.from_environ().model_copy(update={"db_url": SecretStr(dsn)})
    configure_logging(settings)
    spec = load_spec(settings.config_path)
    if process == "serve":
        serving.serve(settings, spec, "127.0.0.1", int(arguments[0]), with_scheduler=True)
    else:
        serving.scheduler_only(settings, spec)


if __name__ == "__main__":
    main(*sys.argv[1:])
