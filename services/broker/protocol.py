"""NSQ protocol V2 as nsqd 1.3 speaks it: frames, names, client errors and IDENTIFY negotiation.

Frames are ``[int32 size][int32 type][data]`` (size counts the type).  A :class:`ClientError` is
either fatal (nsqd sends it, then closes the connection) or not (the connection stays up).
"""

from __future__ import annotations

import json
import re
import struct
from typing import Any

MAGIC_V2 = b"  V2"
FRAME_RESPONSE = 0
FRAME_ERROR = 1
FRAME_MESSAGE = 2
HEARTBEAT = b"_heartbeat_"
OK = b"OK"
CLOSE_WAIT = b"CLOSE_WAIT"
ID_LENGTH = 16

_NAME = re.compile(r"^[.a-zA-Z0-9_-]+(#ephemeral)?$")
_FRAME_HEAD = struct.Struct(">ii")
MESSAGE_HEAD = struct.Struct(">iiqH")  # size, frame type, timestamp ns, attempts
INT32 = struct.Struct(">i")


def valid_name(name: str) -> bool:
    """nsqd's rule for topic and channel names: 1-64 chars of ``[.a-zA-Z0-9_-]``, optional ``#ephemeral``."""
    return 0 < len(name) <= 64 and bool(_NAME.match(name))


def is_ephemeral(name: str) -> bool:
    return name.endswith("#ephemeral")


def frame(kind: int, data: bytes) -> bytes:
    return _FRAME_HEAD.pack(len(data) + 4, kind) + data


def response(data: bytes) -> bytes:
    return frame(FRAME_RESPONSE, data)


def message_frame(timestamp_ns: int, attempts: int, msg_id: bytes, body: bytes) -> bytes:
    return MESSAGE_HEAD.pack(len(body) + 30, FRAME_MESSAGE, timestamp_ns, attempts) + msg_id + body


def message_id(seq: int) -> bytes:
    """The 16 ASCII hex characters nsqd puts in a message id; ours encode the topic sequence number."""
    return b"%016x" % seq


def parse_message_id(raw: bytes) -> int | None:
    """The sequence number behind an id, or None when it is not one of ours (still 16 bytes).
    Only our own spelling counts: nsqd compares ids byte for byte, and ``int`` would also take
    upper case, ``0x``, signs, underscores and surrounding spaces."""
    try:
        seq = int(raw, 16)
    except ValueError:
        return None
    return seq if b"%016x" % seq == raw else None


class ClientError(Exception):
    """An ``E_*`` error answered to a client; ``fatal`` ones close the connection after sending."""

    def __init__(self, code: str, message: str, fatal: bool = True):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.fatal = fatal

    def frame(self) -> bytes:
        return frame(FRAME_ERROR, f"{self.code} {self.message}".encode())


def fatal(code: str, message: str) -> ClientError:
    return ClientError(code, message, fatal=True)


def nonfatal(code: str, message: str) -> ClientError:
    return ClientError(code, message, fatal=False)


def parse_int(raw: bytes) -> int | None:
    try:
        return int(raw.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None


def parse_mpub(body: bytes, max_msg_size: int) -> list[bytes]:
    """Split an MPUB body ``[int32 n]([int32 len][bytes])*`` with nsqd's errors (all fatal)."""
    if len(body) < 4:
        raise fatal("E_BAD_BODY", "MPUB failed to read message count")
    (count,) = INT32.unpack_from(body, 0)
    if count <= 0:
        raise fatal("E_BAD_BODY", f"MPUB invalid message count {count}")
    messages: list[bytes] = []
    pos = 4
    end = len(body)
    for i in range(count):
        if pos + 4 > end:
            raise fatal("E_BAD_MESSAGE", f"MPUB failed to read message({i}) body size")
        (size,) = INT32.unpack_from(body, pos)
        pos += 4
        if size <= 0:
            raise fatal("E_BAD_MESSAGE", f"MPUB invalid message({i}) body size {size}")
        if size > max_msg_size:
            raise fatal("E_BAD_MESSAGE", f"MPUB message too big {size} > {max_msg_size}")
        if pos + size > end:
            raise fatal("E_BAD_MESSAGE", "MPUB failed to read message body")
        messages.append(body[pos:pos + size])
        pos += size
    return messages


class Negotiated:
    """What a client asked for in IDENTIFY, bounded by the broker's limits (nsqd's checks)."""

    def __init__(self, settings: Any):
        self.settings = settings
        self.heartbeat_ms = 30_000
        self.msg_timeout_ms = int(settings["broker.msg_timeout_ms"])
        self.client_id = ""
        self.hostname = ""
        self.user_agent = ""
        self.sample_rate = 0
        self.output_buffer_size = 16384
        self.output_buffer_timeout = 250
        self.feature_negotiation = False

    def apply(self, body: bytes) -> bytes:
        """Validate an IDENTIFY body and return the response data (JSON when negotiated, else OK)."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise fatal("E_BAD_BODY", "IDENTIFY failed to decode JSON body") from None
        if not isinstance(data, dict):
            raise fatal("E_BAD_BODY", "IDENTIFY failed to decode JSON body")
        s = self.settings
        self.client_id = str(data.get("client_id") or data.get("short_id") or "")
        self.hostname = str(data.get("hostname") or data.get("long_id") or "")
        self.user_agent = str(data.get("user_agent") or "")
        self.feature_negotiation = bool(data.get("feature_negotiation"))
        heartbeat = _int_field(data, "heartbeat_interval")
        max_heartbeat = int(s["broker.max_heartbeat_interval_ms"])
        if heartbeat == -1:
            self.heartbeat_ms = 0
        elif heartbeat == 0:
            self.heartbeat_ms = 30_000
        elif heartbeat < 1000 or heartbeat > max_heartbeat:
            raise fatal("E_BAD_BODY", f"IDENTIFY heartbeat interval ({heartbeat}) is invalid")
        else:
            self.heartbeat_ms = heartbeat
        buffer_size = _int_field(data, "output_buffer_size")
        if buffer_size == -1 or buffer_size == 0:
            pass
        elif buffer_size < 64 or buffer_size > 65536:
            raise fatal("E_BAD_BODY", f"IDENTIFY output buffer size ({buffer_size}) is invalid")
        else:
            self.output_buffer_size = buffer_size
        buffer_timeout = _int_field(data, "output_buffer_timeout")
        if buffer_timeout not in (-1, 0):
            if buffer_timeout < 1 or buffer_timeout > 1000:
                raise fatal("E_BAD_BODY", f"IDENTIFY output buffer timeout ({buffer_timeout}) is invalid")
            self.output_buffer_timeout = buffer_timeout
        sample_rate = _int_field(data, "sample_rate")
        if sample_rate < 0 or sample_rate > 99:
            raise fatal("E_BAD_BODY", f"IDENTIFY sample rate ({sample_rate}) is invalid")
        self.sample_rate = sample_rate
        msg_timeout = _int_field(data, "msg_timeout")
        max_timeout = int(s["broker.max_msg_timeout_ms"])
        if msg_timeout:
            if msg_timeout < 1000 or msg_timeout > max_timeout:
                raise fatal("E_BAD_BODY", f"IDENTIFY msg timeout ({msg_timeout}) is invalid")
            self.msg_timeout_ms = msg_timeout
        if not self.feature_negotiation:
            return OK
        # Key order and values as nsqd 1.3.0 answers; TLS, snappy and deflate are not offered.
        answer = {
            "max_rdy_count": int(s["broker.max_rdy_count"]),
            "version": s["broker.version"],
            "max_msg_timeout": max_timeout,
            "msg_timeout": self.msg_timeout_ms,
            "tls_v1": False,
            "deflate": False,
            "deflate_level": 6,
            "max_deflate_level": 6,
            "snappy": False,
            "sample_rate": self.sample_rate,
            "auth_required": False,
            "output_buffer_size": self.output_buffer_size,
            "output_buffer_timeout": self.output_buffer_timeout,
        }
        return json.dumps(answer, separators=(",", ":")).encode()


def _int_field(data: dict, key: str) -> int:
    value = data.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fatal("E_BAD_BODY", "IDENTIFY failed to decode JSON body")
    return int(value)
