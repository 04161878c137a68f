"""The bot's long-running processes: Slack over HTTP (`serve`), Slack over Socket Mode
(`socket`) and the scheduled jobs alone (`scheduler`).

The Procfile runs `serve --no-scheduler` and `scheduler` as two processes on one store:
a checkpoint's log parsing and chart rendering then never hold the GIL that the slash
commands' answers wait for. Run alone, `serve` (or `socket`) runs the scheduler too.
Either way only one process runs the jobs at a time (`bot.store.leadership`: the lease on
SQLite, an advisory lock on PostgreSQL, so replicas on several machines can share a store).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.core.errors import StaggerError
from bot.core.spec import Spec
from bot.settings import Settings

if TYPE_CHECKING:  # Slack, the scheduler and the store load only in a process that runs
    from apscheduler.schedulers.background import BackgroundScheduler
    from slack_bolt import App
    from slack_sdk import WebClient

    from bot.rollout.context import BotContext
    from bot.store.leadership import Leadership, ObservedLeadership

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlackParts:
    context: BotContext
    executor: ThreadPoolExecutor
    app: App


def bot_context(
    settings: Settings, spec: Spec, *, need_signing_secret: bool = True
) -> tuple[BotContext, WebClient]:
    """A long-running process's context and its Slack client; names what's missing."""
    from bot.runtime import build_context
    from bot.slack.poster import web_client

    required = [("SLACK_BOT_TOKEN", settings.slack_bot_token)]
    if need_signing_secret:
        required.append(("SLACK_SIGNING_SECRET", settings.slack_signing_secret))
    missing = [name for name, value in required if not value]
    if missing:
        raise StaggerError(f"set {', '.join(missing)} in the environment (see README.md)")
    assert settings.slack_bot_token is not None
    client = web_client(
        settings.slack_bot_token.get_secret_value(),
        settings.slack_api_url,
        timeout=settings.slack_timeout_s,
    )
    return build_context(settings, spec, slack_client=client), client


def slack_parts(settings: Settings, spec: Spec) -> SlackParts:
    from bot.rollout.execution_lease import recover_interrupted
    from bot.slack.app import build_app

    context, client = bot_context(settings, spec)
    assert settings.slack_signing_secret is not None
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="slack")
    app = build_app(
        context,
        settings.slack_signing_secret.get_secret_value(),
        client,
        executor,
        team_id=settings.slack_team_id,
        app_id=settings.slack_app_id,
    )
    recover_interrupted(context)
    return SlackParts(context, executor, app)


def leadership(context: BotContext, settings: Settings) -> Leadership:
    from bot.store.leadership import leadership_for
    from bot.store.lease import process_name

    dsn = settings.db_url.get_secret_value() if settings.db_url else None
    return leadership_for(context.store, process_name(), dsn)


def observed_leadership(context: BotContext, settings: Settings) -> ObservedLeadership:
    from bot.store.leadership import ObservedLeadership
    from bot.store.lease import process_name

    return ObservedLeadership(leadership(context, settings), process_name())


def start_scheduler(
    context: BotContext, settings: Settings, leader: ObservedLeadership | None = None
) -> BackgroundScheduler:
    from bot.scheduler import build_scheduler
    from bot.store.check_schedule import CheckSchedule

    CheckSchedule(context.store).release_lapsed(context.wall_clock.now())
    scheduler = build_scheduler(
        context, leader or observed_leadership(context, settings), settings.checkpoints_every_s
    )
    scheduler.start()
    return scheduler


def health_report(
    context: BotContext, settings: Settings, leader: ObservedLeadership | None, view: Leadership
) -> dict[str, Any]:
    """/healthz: this process's part in the scheduler and whether the store answers
    (answered 503 when it does not: a load balancer sends no one to a replica that can't
    record what it does)."""
    from bot.store.health import store_problem

    dsn = settings.db_url.get_secret_value() if settings.db_url else None
    problem = store_problem(settings.db_path, dsn)
    role = "no scheduler" if leader is None else "leader" if leader.is_leader else "follower"
    holder = None
    if problem is None:
        try:
            holder = view.current_holder(context.clock.now())
        except Exception as error:  # the health answer itself must not fail
            logger.warning("/healthz could not name the scheduler leader: %s", error)
    return {
        "ok": problem is None,
        "role": role,
        "leader": holder,
        "store": "reachable" if problem is None else f"unreachable: {problem}",
        "environments": sorted(context.spec.environments),
    }


def reload_on_sighup(context: BotContext, settings: Settings) -> None:
    from bot.runtime import reload_spec

    def reload(signum: int, frame: object) -> None:
        # Off the signal frame: reloading writes to the store, which takes locks.
        threading.Thread(
            target=reload_spec, args=(context, settings.config_path), daemon=True
        ).start()

    signal.signal(signal.SIGHUP, reload)


# How often a replica whose store was down at start tries it again.
STORE_RETRY_S = 2.0


def serve(settings: Settings, spec: Spec, host: str, port: int, with_scheduler: bool) -> None:
    """A PostgreSQL store down at start does not stop the replica: it serves /healthz
    (503) and answers that the store is down until it answers, then starts as usual; its
    scheduler takes no lock meanwhile."""
    from bot.core.errors import StoreUnreachable
    from bot.slack.http_server import WsgiApp, create_http_server, stop_http_server, wsgi_app
    from bot.slack.store_down import SwitchableApp, store_down_app

    running: list[tuple[SlackParts, BackgroundScheduler | None]] = []

    def start() -> WsgiApp:
        parts = slack_parts(settings, spec)
        leader = observed_leadership(parts.context, settings) if with_scheduler else None
        view = leader or leadership(parts.context, settings)
        scheduler = start_scheduler(parts.context, settings, leader) if leader is not None else None
        running.append((parts, scheduler))
        return wsgi_app(parts.app, lambda: health_report(parts.context, settings, leader, view))

    try:
        application: WsgiApp | None = start()
    except StoreUnreachable as error:
        if settings.db_url is None or settings.slack_signing_secret is None:
            raise
        logger.warning("the store is down (%s): serving that answer until it is back", error)
        application = None
    assert settings.slack_signing_secret is not None
    switch = SwitchableApp(
        application
        or store_down_app(
            settings.slack_signing_secret.get_secret_value(),
            lambda: store_down_report(settings, spec, with_scheduler),
        )
    )
    server = create_http_server(switch, host, port)
    stopping = threading.Event()

    def shut_down() -> None:
        # The loop runs in this (the main) thread: it must keep turning while the
        # requests in flight are answered, so the stop runs beside it.
        logger.info("SIGTERM or SIGINT: answering the requests in flight, then stopping")
        stopping.set()
        threading.Thread(target=stop_http_server, args=(server,), daemon=True).start()

    def wait_for_the_store() -> None:
        while not stopping.wait(STORE_RETRY_S):
            try:
                switch.app = start()
            except StoreUnreachable as error:
                logger.debug("the store is still down: %s", error)
                continue
            logger.info("the store answers again: serving Slack and running the scheduler")
            return

    _on_stop_signals(shut_down)
    _reload_running_on_sighup(running, settings)
    if application is None:
        threading.Thread(target=wait_for_the_store, name="store-retry", daemon=True).start()
    logger.info("stagger-bot serving Slack on %s:%s (/slack/events, /healthz)", host, port)
    try:
        server.run()
    finally:
        stopping.set()
        for parts, scheduler in running:
            _finish(scheduler, parts.executor)


def store_down_report(settings: Settings, spec: Spec, with_scheduler: bool) -> dict[str, Any]:
    """/healthz before the store first answered: 503, why, and no leader (none is held)."""
    from bot.store.health import store_problem

    dsn = settings.db_url.get_secret_value() if settings.db_url else None
    problem = store_problem(settings.db_path, dsn) or "it answers again; connecting"
    return {
        "ok": False,
        "role": "follower" if with_scheduler else "no scheduler",
        "leader": None,
        "store": f"unreachable: {problem}",
        "environments": sorted(spec.environments),
    }


def _reload_running_on_sighup(
    running: list[tuple[SlackParts, BackgroundScheduler | None]], settings: Settings
) -> None:
    """SIGHUP reloads the spec of the bot once it runs (installed now: only the main
    thread may install a handler)."""
    from bot.runtime import reload_spec

    def reload(signum: int, frame: object) -> None:
        for parts, _scheduler in running[:1]:
            threading.Thread(
                target=reload_spec, args=(parts.context, settings.config_path), daemon=True
            ).start()

    signal.signal(signal.SIGHUP, reload)


def socket_mode(settings: Settings, spec: Spec, with_scheduler: bool) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if not settings.slack_app_token:
        raise StaggerError("set SLACK_APP_TOKEN in the environment (see README.md)")
    parts = slack_parts(settings, spec)
    reload_on_sighup(parts.context, settings)
    stop = threading.Event()
    _on_stop_signals(stop.set)
    scheduler = start_scheduler(parts.context, settings) if with_scheduler else None
    handler: Any = SocketModeHandler(parts.app, settings.slack_app_token.get_secret_value())
    try:
        handler.connect()
        logger.info("stagger-bot connected to Slack in Socket Mode")
        stop.wait()
    finally:
        handler.close()
        _finish(scheduler, parts.executor)


def scheduler_only(settings: Settings, spec: Spec) -> None:
    """The scheduled jobs (checkpoints, alerts, validation checks, ...) and nothing else,
    until SIGTERM or Ctrl-C."""
    from bot.rollout.execution_lease import recover_interrupted

    context, _client = bot_context(settings, spec, need_signing_secret=False)
    reload_on_sighup(context, settings)
    recover_interrupted(context)  # an auto-rollback a dead scheduler process left
    stop = threading.Event()
    _on_stop_signals(stop.set)
    scheduler = start_scheduler(context, settings)
    logger.info("stagger-bot running the scheduled jobs")
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)  # a running job (an auto-rollback) finishes


def _on_stop_signals(stop: Callable[[], None]) -> None:
    """SIGTERM (the platform) and SIGINT (Ctrl-C) both stop the process the same,
    graceful way."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: stop())


def _finish(scheduler: BackgroundScheduler | None, executor: ThreadPoolExecutor) -> None:
    if scheduler is not None:
        scheduler.shutdown(wait=False)
    logger.info("waiting for in-flight work (rollbacks) to finish")
    executor.shutdown(wait=True)
