"""Slack's mrkdwn as the rehearsal and `stagger-bot cmd` print it."""

from __future__ import annotations

from bot.render.mrkdwn_text import mrkdwn


def test_italics_with_underscores_inside_a_word_are_rendered_whole() -> None:
    shown = mrkdwn("_Per job: staging has no database_url_env in the spec._ Then more.")
    assert shown.plain == "Per job: staging has no database_url_env in the spec. Then more."
    [span] = [span for span in shown.spans if span.style == "italic"]
    assert (
        shown.plain[span.start : span.end]
        == "Per job: staging has no database_url_env in the spec."
    )


def test_an_underscore_word_outside_italics_stays_as_typed() -> None:
    assert mrkdwn("set database_url_env first").plain == "set database_url_env first"
