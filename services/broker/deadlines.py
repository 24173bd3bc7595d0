"""When a channel's unfinished messages come due: in-flight ones at their msg_timeout (one entry for
a whole batch delivered at once), deferred ones (DPUB, REQ with a delay) at their due time.

Nothing is removed on FIN/REQ/TOUCH: every entry carries the message's ``token`` of the moment, and
a token that has moved on marks it stale (skipped when due, dropped by :meth:`Deadlines.trim`).
"""

from __future__ import annotations

import heapq
from typing import Any, Iterator

READY, IN_FLIGHT, DEFERRED = 0, 1, 2


class Entry:
    """An unfinished message.  ``token`` changes on every state change, so a stale deadline (an
    earlier delivery's) is recognised; a message's first delivery always has token 1."""

    __slots__ = ("attempts", "state", "client", "token")

    def __init__(self, attempts: int = 0, state: int = READY, client: Any = None, token: int = 0):
        self.attempts = attempts
        self.state = state
        self.client = client
        self.token = token


class Deadlines:
    def __init__(self) -> None:
        # (deadline ns, first seq, token, count): seqs first .. first+count-1 time out then unless
        # their token moved on (a batch delivered at once shares one entry: its first token, 1).
        self.timeouts: list[tuple[int, int, int, int]] = []
        self.deferred: list[tuple[int, int, int]] = []  # (due ns, seq, token)

    def time_out(self, deadline_ns: int, first: int, token: int, count: int = 1) -> None:
        heapq.heappush(self.timeouts, (deadline_ns, first, token, count))

    def defer(self, due_ns: int, seq: int, token: int) -> None:
        heapq.heappush(self.deferred, (due_ns, seq, token))

    def expired(self, now_ns: int, unfinished: dict[int, Entry]) -> Iterator[tuple[int, Entry]]:
        """In-flight messages whose current deadline has passed (the caller changes their token)."""
        timeouts = self.timeouts
        while timeouts and timeouts[0][0] <= now_ns:
            _, first, token, count = heapq.heappop(timeouts)
            for seq in range(first, first + count):
                entry = unfinished.get(seq)
                if entry is not None and entry.token == token and entry.state == IN_FLIGHT:
                    yield seq, entry

    def due(self, now_ns: int, unfinished: dict[int, Entry]) -> Iterator[tuple[int, Entry]]:
        """Deferred messages whose time has come (the caller changes their token)."""
        deferred = self.deferred
        while deferred and deferred[0][0] <= now_ns:
            _, seq, token = heapq.heappop(deferred)
            entry = unfinished.get(seq)
            if entry is not None and entry.token == token and entry.state == DEFERRED:
                yield seq, entry

    def trim(self, unfinished: dict[int, Entry]) -> None:
        """Drop the deadlines of finished messages once they outnumber the live ones, so memory
        stays flat.  ``unfinished`` is in sequence order: entries below its first key are stale."""
        if len(self.timeouts) <= 2 * len(unfinished) + 4096:
            return
        floor = next(iter(unfinished), None)
        live = []
        for item in self.timeouts:
            _, first, token, count = item
            if floor is None or first + count <= floor:
                continue
            for seq in range(max(first, floor), first + count):
                entry = unfinished.get(seq)
                if entry is not None and entry.token == token and entry.state == IN_FLIGHT:
                    live.append(item)
                    break
        heapq.heapify(live)
        self.timeouts = live

    def clear(self) -> None:
        self.timeouts.clear()
        self.deferred.clear()
