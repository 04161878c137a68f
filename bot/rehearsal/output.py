"""What a rehearsal leaves for a person to open afterwards: the channel's transcript,
each file the bot uploaded (the checkpoint charts), the rollout report and the bot's log, in one
folder (`--out DIR`, by default a new `stagger-rehearsal-<scenario>-<time>` here)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

TRANSCRIPT, REPORT, LOG = "channel.txt", "rollout-report.txt", "bot.log"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_folder(scenario: str, now: datetime, where: Path) -> Path:
    """A new folder in `where`, named for the scenario and the time it started."""
    base = where / f"stagger-rehearsal-{scenario}-{now:%Y%m%d-%H%M%S}"
    folder, number = base, 1
    while folder.exists():
        number += 1
        folder = base.with_name(f"{base.name}-{number}")
    return folder


class RehearsalOutput:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder.resolve()
        self._transcript = (self.folder / TRANSCRIPT).open("w", encoding="utf-8")

    def transcript(self, text: str) -> None:
        self._transcript.write(text + "\n")
        self._transcript.flush()

    def save_files(self, files: tuple[tuple[str, str, bytes], ...]) -> dict[str, Path]:
        """Each uploaded (title, filename, content), written under its own name; where
        each went, by title."""
        saved = {}
        for title, filename, content in files:
            name = _UNSAFE.sub("-", Path(filename).name) or "file"
            path = self.folder / name
            number = 1
            while path.exists():
                number += 1
                path = self.folder / f"{Path(name).stem}-{number}{Path(name).suffix}"
            path.write_bytes(content)
            saved[title] = path
        return saved

    def report(self, text: str) -> Path:
        path = self.folder / REPORT
        path.write_text(text + "\n", encoding="utf-8")
        return path

    def close(self) -> None:
        self._transcript.close()
