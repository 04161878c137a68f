"""The composition root: settings and spec in, a wired BotContext out."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr
from slack_sdk import WebClient

from bot.core.clock import Clock, SystemClock
from bot.core.errors import SpecError
from bot.core.ports import Poster, Transport
from bot.core.redaction import RedactingFormatter, Redactor
from bot.core.spec import Spec, load_spec
from bot.core.store_location import password_of
from bot.hosts.ssh import SshTransport
from bot.rollout.context import BotContext
from bot.rollout.plan_pinning import lapse_changed_plans
from bot.settings import Settings
from bot.slack.poster import ConsolePoster, SlackPoster, web_client
from bot.store.audit import AuditEntry, AuditTrail
from bot.store.outbox import Outbox
from bot.store.store import Store

logger = logging.getLogger(__name__)


def secrets_of(settings: Settings) -> tuple[str, ...]:
    values = [settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token]
    values.extend(settings.database_urls.values())
    if settings.db_url is not None:
        values.append(settings.db_url)
        password = password_of(settings.db_url.get_secret_value())
        if password:
            values.append(SecretStr(password))
    found = [value.get_secret_value() for value in values if value is not None]
    # The audit keys as written in the environment, each retired one on its own.
    if settings.audit_key is not None:
        found.append(settings.audit_key.get_secret_value().strip())
    if settings.audit_old_keys is not None:
        found.extend(k.strip() for k in settings.audit_old_keys.get_secret_value().split(","))
    return tuple(secret for secret in found if secret)


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    secrets = secrets_of(settings)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    handler.addFilter(Redactor(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def build_context(
    settings: Settings,
    spec: Spec,
    *,
    transport: Transport | None = None,
    poster: Poster | None = None,
    slack_client: WebClient | None = None,
    clock: Clock | None = None,
    console: TextIO | None = None,
) -> BotContext:
    """`poster` wins; else Slack through `slack_client` (or one made from the token),
    with an outbox in the store for posts Slack refuses; else the console. Without a
    usable STAGGER_AUDIT_KEY a ConfigError says how to set one."""
    keys = settings.audit_keys()
    store = Store(settings.store_location(), busy_timeout_s=settings.db_busy_timeout_s)
    clock = clock or SystemClock()
    if poster is None:
        if slack_client is None and settings.slack_bot_token is not None:
            token = settings.slack_bot_token.get_secret_value()
            slack_client = web_client(
                token, settings.slack_api_url, timeout=settings.slack_timeout_s
            )
        if slack_client is not None:
            poster = SlackPoster(slack_client, Outbox(store), clock)
        else:
            poster = ConsolePoster(console or sys.stdout)
    return BotContext(
        spec=spec,
        store=store,
        audit=AuditTrail(store, secrets_of(settings), keys),
        transport=transport
        or SshTransport(
            spec.ssh.key_path,
            spec.ssh.known_hosts_path,
            connect_timeout=spec.ssh.connect_timeout_s,
        ),
        poster=poster,
        clock=clock,
        database_urls=settings.database_urls,
    )


def reload_spec(context: BotContext, path: Path) -> bool:
    """Swap in the spec at `path` (on SIGHUP); a broken one is refused, the running spec
    kept, and every problem logged. Cadences of scheduled jobs keep their start values."""
    try:
        spec = load_spec(path)
    except SpecError as error:
        logger.error("spec reload refused, the running spec is kept: %s", error)
        context.record(
            AuditEntry(
                "bot", "bot", "spec.reload_refused", None, {"file": str(path)}, "refused",
                "; ".join(error.problems)[:1000],
            )
        )  # fmt: skip
        return False
    context.spec = spec
    logger.info("spec reloaded from %s", path)
    context.record(AuditEntry("bot", "bot", "spec.reloaded", None, {"file": str(path)}, "ok"))
    lapse_changed_plans(context)
    return True
