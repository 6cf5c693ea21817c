"""Request log rows kept on disk while the database cannot take them.

Each process appends to its own file under DATA_DIR/spool/. Any process replays any file once the
database is back: it claims the file by renaming it (only one rename wins), inserts the rows, and
deletes it. Rows carry their unique request id, so a replay interrupted half-way is harmless.
"""

import os
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
from django.conf import settings

__all__ = ["Spool"]


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError


def _load(line: bytes) -> dict:
    values = orjson.loads(line)
    values["created_at"] = datetime.fromisoformat(values["created_at"])
    if values.get("cost") is not None:
        values["cost"] = Decimal(values["cost"])
    return values


class Spool:
    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory or Path(settings.DATA_DIR) / "spool")
        self._file = f"rows-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"

    def append(self, rows: list, name: str = ""):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / (name or self._file), "ab") as out:
            for values in rows:
                out.write(orjson.dumps(values, default=_default) + b"\n")
            out.flush()
            os.fsync(out.fileno())

    def waiting(self) -> list:
        if not self.directory.exists():
            return []
        return sorted(p for p in self.directory.glob("rows-*.jsonl"))

    def claim(self, path: Path) -> Path | None:
        claimed = path.with_name(f"replaying-{os.getpid()}-{path.name}")
        try:
            path.rename(claimed)
        except FileNotFoundError:  # another process took it
            return None
        return claimed

    @staticmethod
    def read(path: Path) -> list:
        with open(path, "rb") as source:
            return [_load(line) for line in source if line.strip()]

    def quarantine(self, rows: list):
        """Rows the database refuses for what they contain: kept aside, out of the way."""
        self.append(rows, name="poison.jsonl")
