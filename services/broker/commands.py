"""The V2 commands, with nsqd 1.3's checks and error strings.

Each command is ``(run, body)``: ``body`` is None for a bare line, else ``(check_line, size_error)``:
``check_line(conn, params)`` validates the line before the body is read (nsqd reads nothing
more after a bad topic), and ``size_error(conn, size)`` refuses a body size before it is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from . import protocol
from .protocol import ClientError, fatal

if TYPE_CHECKING:
    from .tcp import Connection

INIT, SUBSCRIBED, CLOSING = "init", "subscribed", "closing"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _quote(name: str) -> str:
    # Go's %q, as nsqd formats names in its errors.
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _limit(conn: "Connection", key: str) -> int:
    return int(conn.settings[key])


# -- bare commands -------------------------------------------------------------------------

def sub(conn: "Connection", params: list[bytes]) -> None:
    if conn.state != INIT:
        raise fatal("E_INVALID", "cannot SUB in current state")
    if conn.negotiated.heartbeat_ms <= 0:
        raise fatal("E_INVALID", "cannot SUB with heartbeats disabled")
    if len(params) < 3:
        raise fatal("E_INVALID", "SUB insufficient number of parameters")
    topic_name, channel_name = _text(params[1]), _text(params[2])
    if not protocol.valid_name(topic_name):
        raise fatal("E_BAD_TOPIC", f"SUB topic name {_quote(topic_name)} is not valid")
    if not protocol.valid_name(channel_name):
        raise fatal("E_BAD_CHANNEL", f"SUB channel name {_quote(channel_name)} is not valid")
    channel = conn.broker.get_topic(topic_name).get_channel(channel_name)
    conn.channel = channel
    conn.state = SUBSCRIBED
    channel.add_client(conn)
    conn.respond(protocol.OK)


def rdy(conn: "Connection", params: list[bytes]) -> None:
    if conn.state == CLOSING:
        return  # nsqd ignores RDY after CLS
    if conn.state != SUBSCRIBED:
        raise fatal("E_INVALID", "cannot RDY in current state")
    count = 1
    if len(params) > 1:
        parsed = protocol.parse_int(params[1])
        if parsed is None:
            raise fatal("E_INVALID", f"RDY could not parse count {_text(params[1])}")
        count = parsed
    max_rdy = _limit(conn, "broker.max_rdy_count")
    if count < 0 or count > max_rdy:
        raise fatal("E_INVALID", f"RDY count {count} out of range 0-{max_rdy}")
    conn.ready_count = count
    if conn.channel is not None:
        conn.channel.pump_soon()


def _message_id(conn: "Connection", params: list[bytes], verb: str, needed: int) -> tuple[bytes, int | None]:
    if conn.state not in (SUBSCRIBED, CLOSING) or conn.channel is None:
        raise fatal("E_INVALID", f"cannot {verb} in current state")
    if len(params) < needed:
        raise fatal("E_INVALID", f"{verb} insufficient number of params")
    raw = params[1]
    if len(raw) != protocol.ID_LENGTH:
        raise fatal("E_INVALID", "invalid message ID")
    return raw, protocol.parse_message_id(raw)


def fin(conn: "Connection", params: list[bytes]) -> None:
    raw, seq = _message_id(conn, params, "FIN", 2)
    conn.channel.finish(conn, seq, raw)
    conn.finish_count += 1


def req(conn: "Connection", params: list[bytes]) -> None:
    raw, seq = _message_id(conn, params, "REQ", 3)
    delay = protocol.parse_int(params[2])
    if delay is None:
        raise fatal("E_INVALID", f"REQ could not parse timeout {_text(params[2])}")
    # nsqd 1.x clamps an out-of-range REQ delay instead of failing.
    delay = min(max(delay, 0), _limit(conn, "broker.max_req_timeout_ms"))
    conn.channel.requeue(conn, seq, raw, delay)
    conn.requeue_count += 1


def touch(conn: "Connection", params: list[bytes]) -> None:
    raw, seq = _message_id(conn, params, "TOUCH", 2)
    conn.channel.touch(conn, seq, raw)


def nop(conn: "Connection", params: list[bytes]) -> None:
    return None


def cls(conn: "Connection", params: list[bytes]) -> None:
    if conn.state != SUBSCRIBED:
        raise fatal("E_INVALID", "cannot CLS in current state")
    conn.state = CLOSING
    conn.respond(protocol.CLOSE_WAIT)


def auth(conn: "Connection", params: list[bytes]) -> None:
    raise fatal("E_AUTH_DISABLED", "AUTH disabled")


# -- commands with a body ------------------------------------------------------------------

def _topic(params: list[bytes], verb: str, needed: int) -> str:
    if len(params) < needed:
        raise fatal("E_INVALID", f"{verb} insufficient number of parameters")
    name = _text(params[1])
    if not protocol.valid_name(name):
        raise fatal("E_BAD_TOPIC", f"{verb} topic name {_quote(name)} is not valid")
    return name


def _put(conn: "Connection", topic_name: str, bodies: list[bytes], defer_ms: int, verb: str, code: str) -> None:
    try:
        done = conn.broker.get_topic(topic_name).put(bodies, defer_ms)
    except OSError as exc:
        raise fatal(code, f"{verb} failed {exc}") from None
    conn.broker.counters["published"] += len(bodies)
    conn.respond(protocol.OK, after=done, fail=(code, f"{verb} failed"))


def identify_line(conn: "Connection", params: list[bytes]) -> None:
    if conn.state != INIT:
        raise fatal("E_INVALID", "cannot IDENTIFY in current state")


def identify_size(conn: "Connection", size: int) -> ClientError | None:
    if size <= 0 or size > _limit(conn, "broker.max_body_size"):
        return fatal("E_BAD_BODY", f"IDENTIFY invalid body size {size}")
    return None


def identify(conn: "Connection", params: list[bytes], body: bytes) -> None:
    answer = conn.negotiated.apply(body)
    conn.identified()
    conn.respond(answer)


def _message_size(verb: str) -> Callable[["Connection", int], ClientError | None]:
    def check(conn: "Connection", size: int) -> ClientError | None:
        if size <= 0:
            return fatal("E_BAD_MESSAGE", f"{verb} invalid message body size {size}")
        max_size = _limit(conn, "broker.max_msg_size")
        if size > max_size:
            return fatal("E_BAD_MESSAGE", f"{verb} message too big {size} > {max_size}")
        return None
    return check


def pub_line(conn: "Connection", params: list[bytes]) -> None:
    _topic(params, "PUB", 2)


def pub(conn: "Connection", params: list[bytes], body: bytes) -> None:
    _put(conn, _text(params[1]), [body], 0, "PUB", "E_PUB_FAILED")


def _dpub_delay(params: list[bytes], conn: "Connection") -> int:
    delay = protocol.parse_int(params[2])
    if delay is None:
        raise fatal("E_INVALID", f"DPUB could not parse timeout {_text(params[2])}")
    max_req = _limit(conn, "broker.max_req_timeout_ms")
    if delay < 0 or delay > max_req:
        raise fatal("E_INVALID", f"DPUB timeout {delay} out of range 0-{max_req}")
    return delay


def dpub_line(conn: "Connection", params: list[bytes]) -> None:
    _topic(params, "DPUB", 3)
    _dpub_delay(params, conn)


def dpub(conn: "Connection", params: list[bytes], body: bytes) -> None:
    _put(conn, _text(params[1]), [body], _dpub_delay(params, conn), "DPUB", "E_DPUB_FAILED")


def mpub_line(conn: "Connection", params: list[bytes]) -> None:
    _topic(params, "MPUB", 2)


def mpub_size(conn: "Connection", size: int) -> ClientError | None:
    if size <= 0:
        return fatal("E_BAD_BODY", f"MPUB invalid body size {size}")
    max_body = _limit(conn, "broker.max_body_size")
    if size > max_body:
        return fatal("E_BAD_BODY", f"MPUB body too big {size} > {max_body}")
    return None


def mpub(conn: "Connection", params: list[bytes], body: bytes) -> None:
    bodies = protocol.parse_mpub(body, _limit(conn, "broker.max_msg_size"))
    _put(conn, _text(params[1]), bodies, 0, "MPUB", "E_MPUB_FAILED")


COMMANDS: dict[bytes, tuple[Callable, tuple | None]] = {
    b"FIN": (fin, None),
    b"RDY": (rdy, None),
    b"REQ": (req, None),
    b"TOUCH": (touch, None),
    b"NOP": (nop, None),
    b"SUB": (sub, None),
    b"CLS": (cls, None),
    b"AUTH": (auth, None),
    b"IDENTIFY": (identify, (identify_line, identify_size)),
    b"PUB": (pub, (pub_line, _message_size("PUB"))),
    b"DPUB": (dpub, (dpub_line, _message_size("DPUB"))),
    b"MPUB": (mpub, (mpub_line, mpub_size)),
}
