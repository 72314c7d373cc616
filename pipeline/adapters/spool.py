"""Reading switch records from a file being written, or a directory of them, from a committed position.

The position is a small JSON state file: per file its identity (device, inode) and the byte offset
up to which every record was acknowledged by the broker, and the adapter's own state when it holds
records between batches (an INVITE waiting for its BYE). It is written (atomically: temp file,
fsync, rename) only after the acks, so a restart re-reads at most the batch that was in flight,
never skips one. A file that was replaced (other inode) or truncated is read again from its start.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    payload: bytes
    path: str
    offset: int  # where the record starts in its file (a rejection names it)
    end: int  # the file's position once this record is done


@dataclass
class _FilePosition:
    device: int
    inode: int
    offset: int


class Spool:
    """Complete records of one file (`follow=file`) or of every file of a directory, in name order.

    framing "line": every complete line is a record (a partial last line waits for its newline);
    framing "file": a whole file is one record, taken once it has not changed for `settle` seconds.
    """

    def __init__(self, source: Path, state_path: Path, framing: str = "line", settle: float = 1.0) -> None:
        self.source = source
        self.state_path = state_path
        self.framing = framing
        self.settle = settle
        self.unsettled = False
        self.adapter_state: dict = {}  # what the adapter held when the position was committed
        self.positions = self._load()

    def files(self) -> list[Path]:
        if self.source.is_dir():
            return sorted(p for p in self.source.iterdir()
                          if p.is_file() and not p.name.startswith(".") and p.resolve() != self.state_path.resolve())
        return [self.source] if self.source.exists() else []

    def read_batch(self, max_records: int = 1000) -> list[SpoolRecord]:
        records: list[SpoolRecord] = []
        self.unsettled = False  # set when a file was left for later because it may still be written
        for path in self.files():
            if len(records) >= max_records:
                break
            try:
                if self.framing == "file":
                    records.extend(self._whole_file(path))
                else:
                    records.extend(self._lines(path, max_records - len(records)))
            except FileNotFoundError:  # rotated away between listing and opening
                continue
        return records

    def commit(self, records: list[SpoolRecord], adapter_state: dict | None = None) -> None:
        """Remember that these records (and all before them in their files) are on the broker, and
        what the adapter holds from them (saved in the same write: both or neither)."""
        if adapter_state is not None:
            self.adapter_state = adapter_state
        for record in records:
            stat = os.stat(record.path) if os.path.exists(record.path) else None
            if stat is None:
                continue
            known = self.positions.get(record.path)
            if known is None or (known.device, known.inode) != (stat.st_dev, stat.st_ino):
                known = self.positions[record.path] = _FilePosition(stat.st_dev, stat.st_ino, 0)
            known.offset = max(known.offset, record.end)
        live = {str(p) for p in self.files()}
        for gone in [name for name in self.positions if name not in live]:
            del self.positions[gone]  # a file removed from the spool needs no position
        self._save()

    def _start(self, path: Path) -> tuple[int, int]:
        """(offset to read from, file size); 0 for a new, replaced or truncated file."""
        stat = path.stat()
        known = self.positions.get(str(path))
        if known is None:
            return 0, stat.st_size
        if (known.device, known.inode) != (stat.st_dev, stat.st_ino):
            log.warning("%s was replaced (new inode): reading it from the start", path)
            return 0, stat.st_size
        if stat.st_size < known.offset:
            log.warning("%s shrank below the committed offset %d: reading it from the start", path, known.offset)
            return 0, stat.st_size
        return known.offset, stat.st_size

    def _lines(self, path: Path, limit: int) -> list[SpoolRecord]:
        offset, size = self._start(path)
        if offset >= size:
            return []
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read(min(size - offset, MAX_BATCH_BYTES))
        records = []
        position = offset
        for line in chunk.splitlines(keepends=True):
            if not line.endswith(b"\n") or len(records) >= limit:
                break  # the switch is still writing this line, or the batch is full
            records.append(SpoolRecord(line.rstrip(b"\r\n"), str(path), position, position + len(line)))
            position += len(line)
        if not records and len(chunk) == MAX_BATCH_BYTES:
            raise ValueError(f"{path}: a line at byte {offset} is longer than {MAX_BATCH_BYTES} bytes")
        return records

    def _whole_file(self, path: Path) -> list[SpoolRecord]:
        offset, size = self._start(path)
        if offset >= size or size == 0:
            return []
        if time.time() - path.stat().st_mtime < self.settle:
            self.unsettled = True
            return []  # possibly still being written
        payload = path.read_bytes()[:size]
        return [SpoolRecord(payload.strip(), str(path), 0, size)]

    def _load(self) -> dict[str, _FilePosition]:
        if not self.state_path.exists():
            return {}
        state = json.loads(self.state_path.read_text())
        self.adapter_state = state.get("adapter") or {}
        return {name: _FilePosition(**position) for name, position in state.get("files", {}).items()}

    def _save(self) -> None:
        body = {"files": {name: vars(position) for name, position in self.positions.items()}}
        if self.adapter_state:
            body["adapter"] = self.adapter_state
        save_json(self.state_path, body)


def save_json(path: Path, body: dict) -> None:
    """Write a state file so that a crash leaves the old one or the new one, never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w") as handle:
        json.dump(body, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
