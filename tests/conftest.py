"""The shared harness lives in `tests/support/` (which `bench/` imports too)."""

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.ssh_fixtures",
    "tests.support.pg_fixtures",
    "tests.support.tiered_fleet",
    "tests.support.leader_fixtures",
    "tests.support.store_backends",
    "tests.support.replica",
]

# The bot run as a process (`python -m bot.cli` from a test's folder) is this checkout's,
# whatever stagger-bot the machine has installed.
_ROOT = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_ROOT, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `long` tests first: a worker that starts them last would finish alone."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
