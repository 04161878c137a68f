"""Work promised after an answer ("the request follows in #rollout") that breaks is said to
the person waiting, not only logged."""

from __future__ import annotations

import pytest

from bot.core.replies import Reply
from bot.slack.app import FOLLOWUP_FAILED, run_followups


def test_a_broken_follow_up_tells_the_person_and_runs_nothing_after_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []
    told: list[str] = []

    def broken() -> None:
        raise ZeroDivisionError("float division by zero")

    reply = Reply(text="Checking the gates…", followups=(broken, lambda: ran.append("after")))
    run_followups(reply, lambda: told.append(FOLLOWUP_FAILED))
    assert told == [FOLLOWUP_FAILED] and ran == []
    assert "will not" in FOLLOWUP_FAILED and "Traceback" not in FOLLOWUP_FAILED
    assert "follow-up work failed" in caplog.text


def test_follow_ups_that_work_tell_nobody_anything_more() -> None:
    ran: list[int] = []
    told: list[str] = []
    reply = Reply(text="ok", followups=(lambda: ran.append(1), lambda: ran.append(2)))
    run_followups(reply, lambda: told.append("x"))
    assert (ran, told) == ([1, 2], [])
