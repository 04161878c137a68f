"""A rollout recorded by a real rehearsal — the happy scenario with phases hours long and
no database — kept in a folder: the store the replay's tests read, made once per test
process however many modules ask for it."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.rehearsal.test_rehearsal import rehearse


@dataclass(frozen=True)
class RecordedRollout:
    store: Path
    # The spec the rehearsal ran (the runbook's, its phases hours long).
    spec: Path
    # The key the rehearsal signed the audit trail with (it prints it, to verify with).
    audit_key: str = ""

    def spec_data(self) -> dict[str, Any]:
        return tomllib.loads(self.spec.read_text(encoding="utf-8"))

    def other_spec(self, folder: Path, data: dict[str, Any], name: str = "other.toml") -> Path:
        path = folder / name
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
        return path


_RECORDED: list[RecordedRollout] = []


def recorded_rollout(factory: pytest.TempPathFactory) -> RecordedRollout:
    if not _RECORDED:
        folder = factory.mktemp("recorded-rollout")
        result = rehearse(folder, "--scenario", "happy", database=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        key = re.search(r"STAGGER_AUDIT_KEY=([0-9a-f]{64})", result.stdout)
        _RECORDED.append(
            RecordedRollout(
                folder / "work" / "stagger.db", folder / "short.toml", key.group(1) if key else ""
            )
        )
    return _RECORDED[0]
