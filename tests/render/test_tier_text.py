"""How a tiered change reads in its thread: each host under its tier, where a failure
stopped it, and the retry button's count."""

from __future__ import annotations

from bot.core.tiers import HostStanding, HostState
from bot.render.tier_text import needs_retry, progress_text, retry_label, stopped_text

STOPPED = [
    HostStanding("web-1", "canary", HostState.VERIFIED, "written, reloaded"),
    HostStanding("web-2", "batch 2", HostState.VERIFIED, "written, reloaded"),
    HostStanding("web-3", "batch 2", HostState.FAILED, "reload failed: exit 1"),
    HostStanding("web-4", "batch 3", HostState.NOT_STARTED),
    HostStanding("web-5", "batch 3", HostState.NOT_STARTED),
]


def test_a_failed_batch_names_its_failed_host_and_the_batches_it_held_back() -> None:
    assert stopped_text(STOPPED) == (
        "stopped: batch 2 failed on web-3; batch 3 (web-4, web-5) not started"
    )
    assert retry_label(STOPPED) == "Retry the 1 failed and 2 not-started hosts"
    assert needs_retry(STOPPED)


def test_each_host_shows_under_its_tier_with_its_outcome() -> None:
    assert progress_text(":gear: Entering prod-stagger", STOPPED).splitlines() == [
        ":gear: Entering prod-stagger",
        "*canary*",
        ":white_check_mark: `web-1` — written, reloaded",
        "*batch 2*",
        ":white_check_mark: `web-2` — written, reloaded",
        ":x: `web-3` — reload failed: exit 1",
        "*batch 3*",
        ":white_circle: `web-4` not started",
        ":white_circle: `web-5` not started",
    ]


def test_every_host_at_once_stops_nothing_else_and_a_verified_run_needs_no_retry() -> None:
    at_once = [
        HostStanding("web-1", "all hosts", HostState.FAILED, "connection refused"),
        HostStanding("web-2", "all hosts", HostState.VERIFIED, "written"),
    ]
    assert stopped_text(at_once) == ""
    done = [HostStanding("web-1", "all hosts", HostState.VERIFIED, "written")]
    assert not needs_retry(done)
    skipped = [HostStanding("web-9", "skipped", HostState.SKIPPED, "no longer in the spec")]
    assert progress_text("t", skipped).splitlines()[-1] == (
        ":heavy_minus_sign: `web-9` skipped: left the spec — no longer in the spec"
    )
