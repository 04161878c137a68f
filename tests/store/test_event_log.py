"""The store of scanned log events: a scan's events are kept once, whatever runs at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.core.host_address import HostAddress
from bot.hosts.local_transport import LocalTransport
from bot.hosts.log_source import scan_log
from bot.rollout.context import BotContext
from bot.store.event_log import EventLog
from tests.support.app_logs import Traffic, append_log
from tests.support.spec_data import START

HOST = HostAddress("sim", "prod-1.example.com")


def test_two_scans_from_the_same_cursor_store_the_events_once(
    context: BotContext, tmp_path: Path
) -> None:
    # A checkpoint and `/stagger kpi` (or the scheduler and the web process) scanning one
    # host at the same moment both read from the same stored cursor.
    log = tmp_path / "combined.log"
    append_log(log, context.spec, START, 10, Traffic(staggered=True))
    with LocalTransport().connect(HOST) as session:
        first = scan_log(session, str(HOST), str(log), context.spec.logs, None)
        second = scan_log(session, str(HOST), str(log), context.spec.logs, None)
    events = EventLog(context.store)

    assert events.append("prod", str(HOST), str(log), first.events, first.cursor, after=None)
    assert not events.append("prod", str(HOST), str(log), second.events, second.cursor, after=None)

    stored = events.events(
        "prod", str(HOST), START - timedelta(hours=1), START + timedelta(hours=1)
    )
    assert len(stored) == len(first.events) > 0
    assert events.cursor("prod", str(HOST), str(log)) == first.cursor


def test_a_scan_goes_on_from_where_the_last_one_stored(context: BotContext, tmp_path: Path) -> None:
    log = tmp_path / "combined.log"
    append_log(log, context.spec, START, 5, Traffic(staggered=True))
    events = EventLog(context.store)
    with LocalTransport().connect(HOST) as session:
        first = scan_log(session, str(HOST), str(log), context.spec.logs, None)
        assert events.append("prod", str(HOST), str(log), first.events, first.cursor, after=None)
        append_log(log, context.spec, START + timedelta(minutes=5), 5, Traffic(staggered=True))
        stored_cursor = events.cursor("prod", str(HOST), str(log))
        second = scan_log(session, str(HOST), str(log), context.spec.logs, stored_cursor)
    assert events.append(
        "prod", str(HOST), str(log), second.events, second.cursor, after=first.cursor
    )
    stored = events.events("prod", str(HOST), START, START + timedelta(minutes=10))
    assert len(stored) == len(first.events) + len(second.events)
    assert all(event.at >= START + timedelta(minutes=5) for event in second.events)
