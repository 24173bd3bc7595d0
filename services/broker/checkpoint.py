"""A durable channel's position on disk: ``c-<name>.state`` (cursor + unfinished messages with their
attempts, replaced atomically) and ``c-<name>.acks`` (FIN'd sequence numbers since that checkpoint).

No fsync here: losing a checkpoint or some acks (power cut) only means redelivery, because an older
checkpoint never skips an unfinished message; and a checkpoint must never stall the event loop.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

ACK = struct.Struct("<Q")


class Unreadable(ValueError):
    """The state file exists but cannot be parsed (the caller redelivers the whole retained log)."""


def paths(directory: Path, name: str) -> tuple[Path, Path]:
    return directory / f"c-{name}.state", directory / f"c-{name}.acks"


def load(state_path: Path, ack_path: Path) -> tuple[int, dict[int, int], set[int]] | None:
    """``(cursor, {unfinished seq: attempts}, acked seqs)``, None when there is no checkpoint."""
    try:
        state = json.loads(state_path.read_text())
        cursor = int(state["cursor"])
        saved = dict(zip(map(int, state["seqs"]), map(int, state["attempts"])))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise Unreadable(str(exc)) from None
    return cursor, saved, read_acks(ack_path)


def read_acks(ack_path: Path) -> set[int]:
    try:
        raw = ack_path.read_bytes()
    except FileNotFoundError:
        return set()
    usable = len(raw) - len(raw) % ACK.size  # a torn last entry is ignored
    return {ACK.unpack_from(raw, i)[0] for i in range(0, usable, ACK.size)}


def save(state_path: Path, ack_path: Path, cursor: int, seqs: list[int], attempts: list[int],
         still_acked: set[int]) -> None:
    """Replace the checkpoint, then restart the ack file with the acks it does not cover."""
    tmp = state_path.with_suffix(".tmp")
    with open(tmp, "w") as handle:
        handle.write(json.dumps({"cursor": cursor, "seqs": seqs, "attempts": attempts}, separators=(",", ":")))
    os.replace(tmp, state_path)
    with open(ack_path, "wb") as handle:
        handle.write(b"".join(ACK.pack(seq) for seq in sorted(still_acked)))


def append_acks(ack_path: Path, data: bytes) -> None:
    with open(ack_path, "ab") as handle:
        handle.write(data)
