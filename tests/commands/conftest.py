from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.context import BotContext
from bot.poster import ConsolePoster
from bot.remote import LocalTransport
from bot.runtime import build_context
from bot.settings import Settings
from bot.spec import parse_spec
from tests.conftest import spec_data


@pytest.fixture
def console() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def context(tmp_path: Path, clock: ManualClock, console: io.StringIO) -> BotContext:
    """The handlers with a console poster and a local shell: no Slack, no SSH."""
    spec = parse_spec(
        spec_data(
            ["sim@prod-1.example.com"],
            tmp_path / "app",
            known_hosts=tmp_path / "known_hosts",
            key_file=tmp_path / "key",
        )
    )
    settings = Settings.from_environ({"STAGGER_DB": str(tmp_path / "stagger.db")})
    return build_context(
        settings, spec, transport=LocalTransport(), poster=ConsolePoster(console), clock=clock
    )
