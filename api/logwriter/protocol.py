"""The writer's wire format: length-prefixed frames one way, one verdict byte per frame back.

A frame is the row's 16-byte id followed by the row as `storage.decisions.preview_row`
serialises it; its 4-byte big-endian length comes first. Verdicts come back in the order
the frames were sent.
"""

from __future__ import annotations

import struct
import uuid
from enum import Enum

HEADER = struct.Struct(">I")
MAX_FRAME = 8 * 1024 * 1024  # a decision's input and output: the body limit is 1 MiB


class Verdict(bytes, Enum):
    WRITTEN = b"W"
    STALE = b"S"  # the registry or policy generation moved on: nothing written
    UNSTORABLE = b"I"  # PostgreSQL refused a value (out of range, malformed)
    UNAVAILABLE = b"U"  # the database failed: nothing written

    @property
    def label(self) -> str:
        """The `result` label of dealdesk_decision_log_rows_total."""
        return _LABELS[self]


_LABELS = {
    Verdict.WRITTEN: "written",
    Verdict.STALE: "stale",
    Verdict.UNSTORABLE: "unstorable",
    Verdict.UNAVAILABLE: "unavailable",
}


def frame(row_id: uuid.UUID, row: bytes) -> bytes:
    body = row_id.bytes + row
    return HEADER.pack(len(body)) + body


def frames(buffer: bytearray) -> list[tuple[uuid.UUID, bytes]]:
    """Take every whole frame off the front of `buffer` (a partial one stays)."""
    found = []
    offset = 0
    while len(buffer) - offset >= HEADER.size:
        (length,) = HEADER.unpack_from(buffer, offset)
        if length > MAX_FRAME or length < 16:
            raise ValueError(f"bad frame length {length}")
        end = offset + HEADER.size + length
        if end > len(buffer):
            break
        start = offset + HEADER.size
        row_id = uuid.UUID(bytes=bytes(buffer[start : start + 16]))
        found.append((row_id, bytes(buffer[start + 16 : end])))
        offset = end
    del buffer[:offset]
    return found
