"""The shared harness lives in `tests/support/` (which `bench/` imports too)."""

pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.ssh_fixtures",
    "tests.support.pg_fixtures",
]
