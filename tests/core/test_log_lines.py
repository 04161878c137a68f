from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.log_lines import EventKind, LineParser, LogEvent, Malformed, parse_line
from bot.core.spec_fleet import LogSpec

TEXT = LogSpec()
JSON = LogSpec(format="json")
AT = datetime(2026, 2, 1, 12, 0, 15, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (
            "2026-02-01 12:00:15.123 info: 🔄 Job started: Live Stats Sync",
            LogEvent(AT, EventKind.JOB_STARTED, job="Live Stats Sync"),
        ),
        (
            "2026-02-01 12:00:15.123 info: ✅ Job completed Badge Auto-Unlock (812 ms)",
            LogEvent(AT, EventKind.JOB_COMPLETED, job="Badge Auto-Unlock", value=812.0),
        ),
        (
            "2026-02-01 12:00:15.123 error: ❌ Job failed: Telegram Settlement - timeout",
            LogEvent(AT, EventKind.JOB_FAILED, job="Telegram Settlement"),
        ),
        (
            "2026-02-01 12:00:15.123 info: [PoolMonitor] active=17 utilization 85.5% waiting=3",
            LogEvent(AT, EventKind.POOL, value=85.5),
        ),
        (
            "2026-02-01 12:00:15.123 warn: [DB] Slow query 1532ms SELECT 1",
            LogEvent(AT, EventKind.SLOW_QUERY),
        ),
        (
            "2026-02-01 12:00:15.123 info: referral tier2 skipped_lock",
            LogEvent(AT, EventKind.LOCK_SKIP),
        ),
        (
            "2026-02-01 12:00:15.123 warn: offset collision between A and B",
            LogEvent(AT, EventKind.COLLISION),
        ),
        (
            "2026-02-01 12:00:15.123 info: ⏸️ Job stagger disabled",
            LogEvent(AT, EventKind.STAGGER_DISABLED),
        ),
        (
            "2026-02-01T12:00:15.123Z info: ▶️ Job stagger enabled",
            LogEvent(AT, EventKind.STAGGER_ENABLED),
        ),
        (
            "2026-02-01 13:00:15.123+01:00 info: 🔄 Job started Prediction Matcher",
            LogEvent(AT, EventKind.JOB_STARTED, job="Prediction Matcher"),
        ),
    ],
)
def test_text_lines_become_events(line: str, event: LogEvent) -> None:
    assert parse_line(line.encode() + b"\n", TEXT) == event


def test_json_lines_become_events() -> None:
    line = (
        b'{"level":"info","message":"\\u2705 Job completed: Live Stats Sync",'
        b'"timestamp":"2026-02-01T12:00:15.123Z"}'
    )
    assert parse_line(line, JSON) == LogEvent(AT, EventKind.JOB_COMPLETED, job="Live Stats Sync")


def test_unrelated_lines_are_not_events() -> None:
    assert parse_line(b"2026-02-01 12:00:15.123 info: GET /health 200\n", TEXT) is None


@pytest.mark.parametrize(
    ("line", "spec", "reason"),
    [
        (b"\xff\xfe garbage Job started\n", TEXT, "not UTF-8"),
        (b"Job started without a timestamp\n", TEXT, "no timestamp"),
        (b"2026-02-31 12:00:00.000 info: Job started X\n", TEXT, "unreadable timestamp"),
        (b"2026-02-01 12:00:00.000 info: PoolMonitor tick\n", TEXT, "without 'utilization N%'"),
        (b'{"level":"info","message":"Job started"}', JSON, "timestamp and message"),
        (b"not json at all", JSON, "timestamp and message"),
    ],
)
def test_malformed_lines_say_why(line: bytes, spec: LogSpec, reason: str) -> None:
    parsed = parse_line(line, spec)
    assert isinstance(parsed, Malformed) and reason in parsed.reason


def test_patterns_come_from_the_spec() -> None:
    spec = LogSpec(job_started="JOB BEGIN")
    assert parse_line(
        b"2026-02-01 12:00:15.123 info: JOB BEGIN Live Stats Sync\n", spec
    ) == LogEvent(AT, EventKind.JOB_STARTED, job="Live Stats Sync")
    assert parse_line(b"2026-02-01 12:00:15.123 info: Job started Live Stats Sync\n", spec) is None


@pytest.mark.parametrize(
    ("message", "job"),
    [
        ("Job completed: Live Stats Sync (812 ms)", "Live Stats Sync"),
        ("Job completed: Live Stats Sync 812ms", "Live Stats Sync"),
        ("Job completed: Live Stats Sync  \t 9.5 ms done", "Live Stats Sync"),
        ("Job failed: Telegram Settlement - timeout", "Telegram Settlement"),
        ("Job failed: Telegram Settlement\t-\ttimeout", "Telegram Settlement"),
        ("Job started: Referral Tier 2 Processor", "Referral Tier 2 Processor"),
        ("Job started: Referral Tier 2 msgs", "Referral Tier 2 msgs"),
        ("Job started - Badge Auto-Unlock, attempt 2", "Badge Auto-Unlock"),
        ("Job started: Badge Auto-Unlock [retry]", "Badge Auto-Unlock"),
        ("Job started: Badge Auto-Unlock; lock=held", "Badge Auto-Unlock"),
        ("Job started: Badge Auto-Unlock | shard {3}", "Badge Auto-Unlock"),
        ("Job started:   ", None),
    ],
)
def test_the_job_name_ends_where_its_details_begin(message: str, job: str | None) -> None:
    parsed = parse_line(f"2026-02-01 12:00:15.123 info: {message}\r\n".encode(), TEXT)
    assert isinstance(parsed, LogEvent) and parsed.job == job


def test_one_parser_reads_many_lines_as_parse_line_does() -> None:
    parser = LineParser(TEXT)
    lines = [
        b"2026-02-01 12:00:15.123 info: Job started: A",
        b"2026-02-01 12:00:15.123Z info: [PoolMonitor] utilization 12.5%",
        b"2026-02-01 13:00:15.123+0100 warn: [DB] Slow query 2100ms",
        b"2026-02-01 12:00:15 info: GET /health",
        b"\xff Job started",
    ]
    assert [parser.parse(line) for line in lines] == [parse_line(line, TEXT) for line in lines]
    assert [type(parser.parse(line)).__name__ for line in lines] == [
        "LogEvent",
        "LogEvent",
        "LogEvent",
        "NoneType",
        "Malformed",
    ]
    assert parser.parse(lines[2]) == LogEvent(AT, EventKind.SLOW_QUERY)


def test_json_timestamps_without_a_zone_are_utc() -> None:
    line = b'{"level":"info","message":"Job started: A","timestamp":"2026-02-01 12:00:15.123"}'
    assert parse_line(line, JSON) == LogEvent(AT, EventKind.JOB_STARTED, job="A")


@pytest.mark.parametrize(
    ("message", "duration_ms"),
    [
        ("✅ Job completed: Live Stats Sync (1093ms)", 1093.0),
        ("✅ Job completed: Live Stats Sync (1093 ms)", 1093.0),
        ("✅ Job completed: Live Stats Sync (1.09s)", 1090.0),
        ("✅ Job completed: Live Stats Sync", None),
    ],
)
def test_a_completed_line_carries_its_duration(message: str, duration_ms: float | None) -> None:
    parsed = parse_line(f"2026-02-01 12:00:15.123 info: {message}\n".encode(), TEXT)
    assert parsed == LogEvent(AT, EventKind.JOB_COMPLETED, "Live Stats Sync", duration_ms)


@pytest.mark.parametrize("field", ["durationMs", "duration_ms"])
def test_a_json_completed_record_carries_its_numeric_duration_field(field: str) -> None:
    line = (
        '{"level":"info","message":"Job completed: Live Stats Sync",'
        f'"timestamp":"2026-02-01T12:00:15.123Z","{field}":1093}}'
    ).encode()
    assert parse_line(line, JSON) == LogEvent(
        AT, EventKind.JOB_COMPLETED, "Live Stats Sync", 1093.0
    )
    not_a_number = line.replace(b":1093}", b':"1093"}')
    assert parse_line(not_a_number, JSON) == LogEvent(
        AT, EventKind.JOB_COMPLETED, "Live Stats Sync"
    )


def _london_log(instants: list[datetime], spec: LogSpec) -> list[bytes]:
    zone = ZoneInfo("Europe/London")
    if spec.format == "json":
        return [
            (
                '{"level":"info","message":"Job started: A","timestamp":'
                f'"{moment.astimezone(zone).replace(tzinfo=None).isoformat()}"}}'
            ).encode()
            for moment in instants
        ]
    return [
        f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S.%f} info: Job started: A".encode()
        for moment in instants
    ]


@pytest.mark.parametrize("form", ["text", "json"])
def test_a_log_in_local_time_is_read_across_the_october_change(form: str) -> None:
    # Europe/London goes back from 02:00 BST to 01:00 GMT on 2026-10-25: the hour from
    # 01:00 local is written twice. Every 10 minutes from 23:00 UTC the day before.
    instants = [
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC) + timedelta(minutes=10 * n) for n in range(25)
    ]
    spec = LogSpec(format=form, timezone="Europe/London")  # type: ignore[arg-type]
    parser = LineParser(spec)
    parsed = [parser.parse(line) for line in _london_log(instants, spec)]
    assert [event.at for event in parsed if isinstance(event, LogEvent)] == instants


def test_a_log_timezone_is_applied_and_an_offset_in_the_line_still_wins() -> None:
    spec = LogSpec(timezone="Europe/Berlin")
    assert parse_line(b"2026-02-01 13:00:15.123 info: Job started: A", spec) == LogEvent(
        AT, EventKind.JOB_STARTED, "A"
    )
    assert parse_line(b"2026-02-01 12:00:15.123Z info: Job started: A", spec) == LogEvent(
        AT, EventKind.JOB_STARTED, "A"
    )


def test_an_unknown_log_timezone_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'Europe/Lodnon' is not a time zone"):
        LogSpec(timezone="Europe/Lodnon")


def test_a_local_time_in_the_hour_skipped_in_spring_takes_the_offset_before_the_change() -> None:
    parser = LineParser(LogSpec(timezone="Europe/London"))
    parser.parse(b"2026-03-29 00:59:00.000 info: Job started: A")
    skipped = parser.parse(b"2026-03-29 01:30:00.000 info: Job started: A")  # never on a clock
    assert isinstance(skipped, LogEvent)
    assert skipped.at == datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/London")).astimezone(
        UTC
    )
    assert skipped.at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # GMT, the offset before


def _london_line(local: str) -> bytes:
    return f"2026-10-25 {local}.000 info: Job started: A".encode()


def test_a_gap_of_over_half_an_hour_in_the_repeated_hour_keeps_the_later_moment() -> None:
    # 01:55 BST (00:55 UTC), then 01:10 GMT (the second pass, 01:10 UTC), then 40 minutes
    # of nothing: 01:50 local is 01:50 UTC, never the 00:50 UTC before the line read last.
    parser = LineParser(LogSpec(timezone="Europe/London"))
    read = [parser.parse(_london_line(local)) for local in ("01:55:00", "01:10:00", "01:50:00")]
    assert [event.at for event in read if isinstance(event, LogEvent)] == [
        datetime(2026, 10, 25, 0, 55, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 10, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 50, tzinfo=UTC),
    ]


def test_a_parser_seeded_with_the_last_event_reads_the_repeated_hour_after_it() -> None:
    last = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 01:10 GMT, the second pass
    parser = LineParser(LogSpec(timezone="Europe/London"), after=last)
    event = parser.parse(_london_line("01:20:00"))
    assert isinstance(event, LogEvent) and event.at == datetime(2026, 10, 25, 1, 20, tzinfo=UTC)
    # Lines a few milliseconds out of order between writers stay in the first pass.
    first_pass = LineParser(
        LogSpec(timezone="Europe/London"), after=datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    )
    early = first_pass.parse(b"2026-10-25 01:29:59.995 info: Job started: A")
    assert isinstance(early, LogEvent)
    assert early.at == datetime(2026, 10, 25, 0, 29, 59, 995000, tzinfo=UTC)
