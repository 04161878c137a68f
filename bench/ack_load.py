"""Slash-command acknowledgement under load, against a bare slack-bolt app.

    python3 -m bench.ack_load [--duration 30] [--senders 20]

20 concurrent senders (threads of a separate process, so they don't share the server's
GIL) post Slack-signed `/stagger status` requests over loopback, each sending its next
request as soon as the previous one is answered, for `--duration` seconds. Latency is
from the first byte sent to the last byte of the answer, on a new connection each time.
Three servers are measured in turn, each served by waitress (8 threads) through the same
WSGI adapter:

1. a bare slack-bolt App whose /stagger listener only acks (the baseline);
2. stagger-bot (`start_bot` of tests/support/served_bot.py: real store, real SSH transport to a
   loopback sshd, the Web API stand-in), idle;
3. stagger-bot while a checkpoint (`bot.rollout.checkpoint_post.post_checkpoint` for prod's
   running phase: scan, judge, post, render and upload the chart; 6 h of app log, about
   1 MB, before the first, 30 min of new log before each next one) and a KPI scan
   (`bot.rollout.measuring.measure` for staging over 6 h) run back to back in another process
   on the same store, as the Procfile's `stagger-bot scheduler` runs beside
   `serve --no-scheduler`;
4. the same, with the loops in the bot's own process (`stagger-bot serve` run alone).

Goals (issue 7): the loaded bot's p99 at most 1.5x the bare app's p99, and far under
Slack's 3 s.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App

from bench.harness import (
    MACHINE_NOTE,
    RunningBot,
    app_log,
    loopback_fleet,
    now_utc,
    percentile,
    print_table,
    running_bot,
    verdict,
)
from bot.core.phase_record import Entry
from bot.core.spec import Spec, parse_spec
from bot.rehearsal.slack_signing import signature, slash_command_body
from bot.rehearsal.slack_standin import SlackStandIn
from bot.rollout.checkpoint_post import post_checkpoint
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.http_server import create_http_server, stop_http_server, wsgi_app
from bot.slack.poster import web_client
from bot.store.timeline import Timeline
from tests.support.spec_data import AUDIT_KEY, BOT_TOKEN, OPERATOR, SIGNING_SECRET

RATIO_GOAL = 1.5
SEPARATE = "stagger-bot + scheduler process (Procfile)"
TOGETHER = "stagger-bot, scheduler in-process (`serve` alone)"
SLACK_LIMIT_S = 3.0
SPAN = timedelta(hours=6)


# -- the senders (a separate process) ----------------------------------------------------


def _send_one(port: int) -> tuple[float, bool]:
    body = slash_command_body(OPERATOR, "status").encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(SIGNING_SECRET, stamp, body.decode()),
    }
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/slack/events", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        ok = response.status == 200 and (not answer or b"error" not in answer[:40].lower())
    except OSError:
        ok = False
    finally:
        connection.close()
    return time.perf_counter() - started, ok


def senders(port: int, count: int, duration: float) -> dict[str, Any]:
    """`count` closed-loop senders for `duration` seconds: every latency, and failures."""
    deadline = time.perf_counter() + duration
    results: list[list[float]] = [[] for _ in range(count)]
    failures = [0] * count

    def loop(number: int) -> None:
        while time.perf_counter() < deadline:
            seconds, ok = _send_one(port)
            results[number].append(seconds)
            failures[number] += not ok

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": [s for r in results for s in r], "failures": sum(failures)}


def run_senders(port: int, count: int, duration: float) -> tuple[list[float], int]:
    """Runs `senders` in a child interpreter and returns its latencies and failure count."""
    code = (
        "import json, sys; from bench.ack_load import senders; "
        f"json.dump(senders({port}, {count}, {duration}), sys.stdout)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=duration + 120
    ).stdout
    result = json.loads(output)
    return list(result["latencies"]), int(result["failures"])


# -- the servers -------------------------------------------------------------------------


@contextlib.contextmanager
def bare_app() -> Iterator[int]:
    """A slack-bolt App that only acks /stagger, served as the bot is; its port."""
    slack = SlackStandIn()
    executor = ThreadPoolExecutor(max_workers=8)
    # Bolt configured as the bot's app is (bot/slack/app.py): the listener answers in the
    # request's thread. The ratio is then the cost of the bot's own work.
    app = App(
        signing_secret=SIGNING_SECRET,
        client=web_client(BOT_TOKEN, slack.url),
        token_verification_enabled=False,
        process_before_response=True,
        listener_executor=executor,
    )

    @app.command("/stagger")
    def on_command(ack: Ack) -> None:
        ack()

    server = create_http_server(wsgi_app(app, lambda: {"ok": True}), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        stop_http_server(server, thread)
        executor.shutdown(wait=True)
        slack.close()


@dataclass
class Background:
    """A checkpoint loop and a KPI-scan loop against the bot's store, until stopped."""

    context: BotContext
    spec: Spec
    log_path: Path
    stop: threading.Event = field(default_factory=threading.Event)
    checkpoints: list[float] = field(default_factory=list)
    scans: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def _checkpoint_loop(self) -> None:
        context = self.context
        timeline = Timeline(context.store)
        phase = timeline.current() or timeline.enter(
            Entry("prod-stagger", "prod", now_utc() - SPAN, "", note="bench"),
            expected_current=None,
        )
        minutes = int(SPAN.total_seconds() // 60)  # 6 h of log first, then 30 min a time
        while not self.stop.is_set():
            log = app_log(self.spec, now_utc() - timedelta(minutes=minutes), minutes)
            minutes = 30
            with self.log_path.open("ab") as out:
                out.write(log)
            started = time.perf_counter()
            try:
                post_checkpoint(context, "prod", phase, now_utc(), SPAN)
            except Exception as error:  # report, keep the load going
                self.errors.append(f"checkpoint: {error!r}")
            self.checkpoints.append(time.perf_counter() - started)

    def _scan_loop(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                measure(self.context, "staging", SPAN)
            except Exception as error:
                self.errors.append(f"kpi scan: {error!r}")
            self.scans.append(time.perf_counter() - started)

    @contextlib.contextmanager
    def running_loops(self) -> Iterator[None]:
        threads = [
            threading.Thread(target=self._checkpoint_loop, daemon=True),
            threading.Thread(target=self._scan_loop, daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=120)

    def summary(self) -> dict[str, Any]:
        return {"checkpoints": self.checkpoints, "scans": self.scans, "errors": self.errors}


def scheduler_process(arguments: dict[str, str], duration: float) -> dict[str, Any]:
    """The same loops in a process of their own on the bot's store, as `stagger-bot
    scheduler` runs beside `serve --no-scheduler` (the Procfile)."""
    spec = parse_spec(json.loads(Path(arguments["spec"]).read_text(encoding="utf-8")))
    settings = Settings.from_environ(
        {"STAGGER_DB": arguments["store"], "STAGGER_AUDIT_KEY": AUDIT_KEY}
    )
    client = web_client(BOT_TOKEN, arguments["slack"])
    context = build_context(settings, spec, slack_client=client)
    background = Background(context, spec, Path(arguments["log"]))
    with background.running_loops():
        background.stop.wait(duration)
    return background.summary()


@contextlib.contextmanager
def in_scheduler_process(
    running: RunningBot, log_path: Path, duration: float
) -> Iterator[dict[str, Any]]:
    spec_file = log_path.parent.parent / "bench-spec.json"
    spec_file.write_text(running.spec.model_dump_json(), encoding="utf-8")
    arguments = {
        "spec": str(spec_file),
        "store": str(running.bot.context.store.path),
        "slack": running.slack.url,
        "log": str(log_path),
    }
    code = (
        "import json, sys; from bench.ack_load import scheduler_process; "
        f"json.dump(scheduler_process({arguments!r}, {duration + 5}), sys.stdout)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    summary: dict[str, Any] = {}
    try:
        yield summary
    finally:
        output, _ = process.communicate(timeout=duration + 180)
        summary.update(json.loads(output or "{}"))


# -- the benchmark -----------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    name: str
    latencies: list[float]
    failures: int

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)


def main(duration: float = 30.0, count: int = 20) -> None:
    # waitress warns "Task queue depth is N" whenever its 8 threads are all busy: by design
    # here (20 senders), and thousands of lines would bury the table.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    results: list[Measured] = []
    loads: list[tuple[str, dict[str, Any]]] = []
    with bare_app() as port:
        results.append(Measured("bare slack-bolt app", *run_senders(port, count, duration)))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        with loopback_fleet(tmp / "fleet", 1) as fleet, running_bot(tmp, fleet) as running:
            port = running.bot.sender.port
            log_path = fleet.roots[0] / "logs" / "combined.log"
            results.append(Measured("stagger-bot, idle", *run_senders(port, count, duration)))
            with in_scheduler_process(running, log_path, duration) as summary:
                loaded = run_senders(port, count, duration)
            results.append(Measured(f"{SEPARATE}: checkpoint + KPI scan", *loaded))
            loads.append((SEPARATE, summary))
            background = Background(running.bot.context, running.spec, log_path)
            with background.running_loops():
                loaded = run_senders(port, count, duration)
            results.append(Measured(f"{TOGETHER}: checkpoint + KPI scan", *loaded))
            loads.append((TOGETHER, background.summary()))
    bare = results[0]
    rows: list[list[object]] = []
    for result in results:
        ratio = result.p99 / bare.p99
        rows.append(
            [
                result.name,
                len(result.latencies),
                result.failures,
                f"{result.p50 * 1000:.1f}",
                f"{result.p99 * 1000:.1f}",
                ratio,
                ratio / RATIO_GOAL,
                result.p99 / SLACK_LIMIT_S,
            ]
        )
    print_table(
        f"Slash-command ack under load: {count} senders x {duration:g} s each, /stagger status",
        [
            "server",
            "requests",
            "failed",
            "p50 ms",
            "p99 ms",
            "p99 / bare p99",
            "ratio to 1.5x goal",
            "p99 / 3 s",
        ],
        rows,
    )
    for result in results[1:]:
        print(
            f"{result.name}: p99 <= 1.5x bare {verdict(result.p99 / bare.p99 / RATIO_GOAL)}; "
            f"under 3 s {verdict(result.p99 / SLACK_LIMIT_S)}"
        )
    for name, summary in loads:
        checkpoints, scans = summary.get("checkpoints", []), summary.get("scans", [])
        median = sorted(checkpoints)[len(checkpoints) // 2] if checkpoints else float("nan")
        errors = summary.get("errors", [])
        print(
            f"background, {name}: {len(checkpoints)} checkpoint(s) (median {median:.2f} s), "
            f"{len(scans)} KPI scan(s)" + (f"; errors: {errors[:3]}" if errors else "")
        )
    print(f"({MACHINE_NOTE})")


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Slash-command ack latency under load.")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per server")
    parser.add_argument("--senders", type=int, default=20)
    arguments = parser.parse_args(argv)
    main(arguments.duration, arguments.senders)


if __name__ == "__main__":
    cli()
