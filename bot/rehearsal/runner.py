"""`stagger-bot rehearse`: the whole runbook on a simulated fleet, in accelerated time.

The real bot — the Bolt app behind waitress, receiving Slack-signed requests; the KPI,
phase and rollback code; the scheduled jobs — runs against simulated hosts through a
local shell, while simulated people type `/stagger advance` and click Approve through the
interactivity endpoint. A Slack Web API stand-in prints every post in the terminal.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.core.approvals import Status
from bot.core.clock import ManualClock, describe_duration, format_time
from bot.core.errors import StaggerError
from bot.core.spec import parse_spec
from bot.rehearsal.bot_spec import CHANNEL, LEAD, LEAD_2, NAMES, OPERATOR, bot_spec
from bot.rehearsal.database import RehearsalDatabases
from bot.rehearsal.fleet import Fleet, FleetDatabase
from bot.rehearsal.fleet_transport import FleetTransport
from bot.rehearsal.idle_executor import IdleTrackingExecutor
from bot.rehearsal.interactive import Interactive
from bot.rehearsal.output import LOG, RehearsalOutput, default_folder
from bot.rehearsal.rehearsal_bot import RehearsalBot
from bot.rehearsal.scenarios import SCENARIOS, START, Scenario
from bot.rehearsal.slack_signing import SlackSender
from bot.rehearsal.slack_standin import SlackStandIn
from bot.rehearsal.terminal_render import Terminal
from bot.render.blocks import APPROVE_ACTION
from bot.rollout.context import BotContext
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.http_server import create_http_server, stop_http_server, wsgi_app
from bot.slack.poster import web_client
from bot.store.outbox import Outbox
from bot.store.timeline import Timeline
from jobs import (
    alert_watch,
    audit_head,
    canary_soak,
    checkpoints,
    daily_analysis,
    deliver_outbox,
    env_locks,
    expire_requests,
    success_watch,
    validation_checks,
)

# Fine steps while something happens (a new phase's first half hour, with its validation
# checks at +5, +15 and +30 min); coarse ones, on the half hour, while a phase just runs.
FINE, COARSE = timedelta(minutes=5), timedelta(minutes=30)
BUSY_AFTER_ENTRY = timedelta(minutes=35)
ASK_AGAIN = timedelta(hours=1)
# The stand-in answers every call: a post it refused this often is a fault of the
# rehearsal, and retrying it for ever would hang it.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class RehearsalOptions:
    spec_path: Path
    scenario: str = "happy"
    speed: float = 0.0  # simulated seconds per real second; 0: as fast as it goes
    keep: Path | None = None  # a new or empty folder for the fleet and the store
    out: Path | None = None  # a new or empty folder for what a person opens afterwards
    database_url: str | None = None
    interactive: bool = False
    colour: bool = True  # on a terminal; never where the output is not one


class OutputClosed(BrokenPipeError):
    """Whoever read the rehearsal's output went away (`| head`)."""


@contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """The bot's log goes to a file while it runs: the terminal shows the channel."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if type(handler) is logging.StreamHandler
    ]
    with path.open("a", encoding="utf-8") as log:
        previous = [handler.setStream(log) for handler in handlers]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, previous, strict=True):
                if stream is not None:
                    handler.setStream(stream)


class Rehearsal:
    def __init__(self, options: RehearsalOptions, out: TextIO) -> None:
        self.options = options
        self.scenario: Scenario = SCENARIOS[options.scenario]
        self._out = out
        self._last_ask: datetime | None = None
        # The rehearsal's own audit key: its store is verified with it afterwards.
        self._audit_key = secrets.token_hex(32)

    def run(self) -> int:
        options, scenario = self.options, self.scenario
        # A spec that can't be rehearsed is refused before anything is made for it.
        data = tomllib.loads(options.spec_path.read_text(encoding="utf-8"))
        if scenario.change_spec is not None:
            scenario.change_spec(data)
        parse_spec(data, str(options.spec_path))
        folder = options.out or default_folder(scenario.name, datetime.now(UTC), Path.cwd())
        output = RehearsalOutput(folder)
        terminal = self.terminal = Terminal(
            self._out,
            NAMES,
            channels={CHANNEL: "rollout"},
            output=output,
            colour=options.colour,
            status_line=not options.interactive,
        )
        # The fleet and the store are the rehearsal's own: gone at the end, unless kept.
        work = options.keep or Path(tempfile.mkdtemp(prefix="stagger-rehearsal-"))
        try:
            work.mkdir(parents=True, exist_ok=True)
            with _logs_to(output.folder / LOG):
                return self._run(work, data, output)
        finally:
            if options.keep is None:
                shutil.rmtree(work, ignore_errors=True)
            output.close()
            terminal.status("")

    def _run(self, work: Path, data: dict[str, Any], output: RehearsalOutput) -> int:
        options, scenario, terminal = self.options, self.scenario, self.terminal
        terminal.say(
            f"Rehearsal `{scenario.name}`: {scenario.story}\nExpected: {scenario.expected}.\n"
            f"Files: {output.folder}\n"
        )
        started = time.monotonic()
        databases = RehearsalDatabases(options.database_url, list(data["environments"]))
        if not databases.available:
            terminal.say(self._without_database() + "\n")
        with databases, self._fleet(work, data, databases) as fleet:
            context = self._drive(work, data, fleet, databases)
        elapsed = context.clock.now() - START
        terminal.status("")
        report = next((post for post in terminal.posts if "Rollout succeeded." in post), None)
        if report is not None:
            output.report(report)
        if options.interactive:
            terminal.say(
                f"\nRehearsal ended after {describe_duration(elapsed)} simulated.\n"
                f"Audit trail: {self._audit_line(context)}\nFiles: {output.folder}"
            )
            return 0
        passed = scenario.outcome(context, terminal.posts)
        terminal.say(
            f"\n{'✅ PASSED' if passed else '❌ FAILED'}: `{scenario.name}` — expected "
            f"{scenario.expected}; {describe_duration(elapsed)} simulated in "
            f"{time.monotonic() - started:.0f} s.\n"
            f"Audit trail: {self._audit_line(context)}\nFiles: {output.folder}"
        )
        return 0 if passed else 1

    def _without_database(self) -> str:
        if self.scenario.prod_database_down:
            return (
                "No DATABASE_URL: staging has no database in this rehearsal (its job "
                "durations come from the log); prod's is unreachable, as the scenario says."
            )
        return (
            "No DATABASE_URL: the KPIs only the database has (metadata errors, overlap) are "
            "left out of this rehearsal; job durations come from the log."
        )

    def _audit_line(self, context: BotContext) -> str:
        """With the store kept, the command that verifies it; else the verification, done
        before the store goes with its temporary folder."""
        if self.options.keep is not None:
            return self._verify_command(context)
        head = context.audit.head()
        result = context.audit.verify(head)
        if not result.ok:
            return f"BROKEN: {result.problem}"
        return (
            f"{result.rows_checked} entries, chain intact up to head {head} (the store was "
            "temporary: keep it with --keep DIR to verify it yourself)"
        )

    def _verify_command(self, context: BotContext) -> str:
        head = context.audit.head()
        return (
            f"STAGGER_AUDIT_KEY={self._audit_key} STAGGER_DB={context.store.path} "
            "stagger-bot audit verify" + (f" --head {head}" if head else "")
        )

    @contextmanager
    def _fleet(
        self, work: Path, data: dict[str, Any], databases: RehearsalDatabases
    ) -> Iterator[Fleet]:
        base = parse_spec(data, str(self.options.spec_path))
        fleet = Fleet.create(
            work / "fleet",
            base,
            START,
            knobs=self.scenario.knobs(START),
            hosts_per_env=self.scenario.hosts_per_env,
            databases={env: FleetDatabase(dsn) for env, dsn in databases.dsns.items()},
        )
        with fleet:
            yield fleet

    def _drive(
        self, work: Path, data: dict[str, Any], fleet: Fleet, databases: RehearsalDatabases
    ) -> BotContext:
        spec = parse_spec(bot_spec(data, fleet, databases, self.scenario), "rehearsal spec")
        standin = SlackStandIn(on_call=self.terminal.on_call)
        secret, token = secrets.token_hex(16), "xoxb-rehearsal-" + secrets.token_hex(8)
        environment = {
            "STAGGER_DB": str(work / "stagger.db"),
            "SLACK_BOT_TOKEN": token,
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_URL": standin.url,
            "STAGGER_AUDIT_KEY": self._audit_key,
            **databases.bot_dsns(self.scenario),
        }
        settings = Settings.from_environ(environment)
        clock = ManualClock(START)
        client = web_client(token, standin.url)
        context = build_context(
            settings, spec, transport=FleetTransport(fleet), slack_client=client, clock=clock
        )
        executor = IdleTrackingExecutor()
        app = build_app(context, secret, client, executor)
        server = create_http_server(wsgi_app(app, lambda: {"ok": True}), "127.0.0.1", 0)
        serving = threading.Thread(target=server.run, daemon=True)
        serving.start()
        bot = RehearsalBot(context, clock, SlackSender(server.effective_port, secret), executor)
        try:
            if self.options.interactive:
                Interactive(
                    bot, lambda: self.tick(fleet, bot), self.terminal, self.options.speed
                ).run()
            else:
                self._loop(fleet, bot)
        finally:
            executor.wait_idle()
            stop_http_server(server, serving)
            executor.shutdown(wait=True)
            standin.close()
        return context

    def _loop(self, fleet: Fleet, bot: RehearsalBot) -> None:
        now, end = START, START + self.scenario.limit
        while now < end and not self._finished(bot.context):
            self._people(bot, now)
            bot.executor.wait_idle()
            step = self.tick(fleet, bot)
            now = bot.clock.now()
            if self.options.speed > 0:
                time.sleep(step.total_seconds() / self.options.speed)

    def tick(self, fleet: Fleet, bot: RehearsalBot) -> timedelta:
        """One step of simulated time: the fleet writes its logs, the clock moves, the
        scheduled jobs run; returns the step taken."""
        now = bot.clock.now()
        step = self._step(bot.context, now)
        now += step
        fleet.advance(now)
        bot.clock.set(now)
        self._scheduler(bot.context, now)
        bot.executor.wait_idle()
        self._show_status(bot.context, now)
        self._check(bot.context)
        return step

    def _check(self, context: BotContext) -> None:
        """Stop at once when nobody reads the output any more, or when a post keeps being
        refused (the outbox would retry it every step, for ever)."""
        if self.terminal.closed.is_set():
            raise OutputClosed("the rehearsal's output was closed")
        stuck = [call for call in Outbox(context.store).pending() if call.attempts >= MAX_ATTEMPTS]
        if stuck:
            raise StaggerError(
                f"the Slack stand-in refused a {stuck[0].method} {stuck[0].attempts} times; "
                "stopping the rehearsal"
            )

    def _step(self, context: BotContext, now: datetime) -> timedelta:
        current = Timeline(context.store).current()
        busy = bool(context.store.open_requests()) or (
            current is not None and now - current.started_at < BUSY_AFTER_ENTRY
        )
        on_the_half_hour = now.minute % 30 == 0
        return COARSE if on_the_half_hour and not busy else FINE

    def _finished(self, context: BotContext) -> bool:
        current = Timeline(context.store).current()
        done = current is not None and current.is_terminal
        return done or self.scenario.outcome(context, self.terminal.posts)

    def _scheduler(self, context: BotContext, now: datetime) -> None:
        """The scheduled jobs, each on its cadence, driven by the accelerated clock."""
        minutes = int((now - START).total_seconds() // 60)
        expire_requests.run(context, now)
        env_locks.run(context, now)
        validation_checks.run(context, now)
        canary_soak.run(context, now)
        deliver_outbox.run(context, now)
        checkpoints.run(context, now)
        if minutes % context.spec.alerts.every_min == 0:
            alert_watch.run(context, now)
        if minutes % 60 == 0:
            daily_analysis.run(context, now)
            success_watch.run(context, now)
            audit_head.run(context, now)

    def _people(self, bot: RehearsalBot, now: datetime) -> None:
        """The approvers click Approve on what is pending; the operator asks to advance
        once a phase has run its minimum (and again an hour after a refusal)."""
        context = bot.context
        if self.scenario.people is not None:
            for text in self.scenario.people(context, now):
                self._type(bot, LEAD, text)
        pending = [r for r in context.store.open_requests() if r.status is Status.PENDING]
        for request in pending:
            approvers = [a for a in (LEAD, LEAD_2) if a != request.requester]
            for approver in approvers[: request.required]:
                bot.sender.click(
                    approver, APPROVE_ACTION, request.id, message_ts=request.message_ts or "1.0"
                )
                bot.executor.wait_idle()
        if context.store.open_requests():
            return
        current = Timeline(context.store).current()
        if current is not None and current.is_terminal:
            return
        phase = context.spec.phase(current.phase) if current else None
        ready = current is None or (
            phase is not None and current.elapsed(now) >= timedelta(hours=phase.min_duration_h)
        )
        if ready and (self._last_ask is None or now - self._last_ask >= ASK_AGAIN):
            self._last_ask = now
            self._type(bot, OPERATOR, "advance", quiet=True)

    def _type(self, bot: RehearsalBot, user: str, text: str, *, quiet: bool = False) -> None:
        """`user` types `/stagger text`; what the answer says is shown, as the person
        would see it (`quiet`: only when it refuses)."""
        reply = bot.sender.command(user, text)
        answer = str(reply.json().get("text", "")) if reply.body else ""
        bot.executor.wait_idle()
        refused = answer.startswith((":warning:", ":x:"))
        if quiet and not refused:
            return
        self.terminal.say(f"<@{user}>: `/stagger {text}` — {answer}")

    def _show_status(self, context: BotContext, now: datetime) -> None:
        current = Timeline(context.store).current()
        day = (now - START).days + 1
        phase = current.phase if current else "not started"
        shown = format_time(now, context.spec.timezone)
        self.terminal.status(f"⏱  day {day}, {shown} (simulated) · {phase}")
