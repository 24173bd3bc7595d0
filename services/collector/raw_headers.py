"""Request headers as the client sent them (name case and order), for the CollectorPayload.

Snowplow stores every header as ``Name: value`` with the client's own spelling and order; Tornado's
``HTTPHeaders`` keeps neither (names are title-cased, repeats grouped).  :class:`OriginServer` keeps
a copy of the raw header lines on each request's ``headers.raw_pairs``; without it (another server,
a future Tornado) the payload builder falls back to Tornado's view.
"""

from __future__ import annotations

import logging
from typing import Any

import tornado.httpserver
import tornado.httputil

log = logging.getLogger(__name__)


def parse_raw_pairs(block: str) -> list[tuple[str, str]]:
    """``[(name, value), ...]`` from the header block (obs-fold continuation lines joined)."""
    pairs: list[tuple[str, str]] = []
    for line in block.split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t" and pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if sep:
            pairs.append((name, value.strip(" \t")))
    return pairs


class OriginServer(tornado.httpserver.HTTPServer):
    """An HTTPServer whose requests carry ``headers.raw_pairs`` (the headers as sent)."""

    def start_request(self, server_conn: object, request_conn: Any) -> tornado.httputil.HTTPMessageDelegate:
        parse = getattr(request_conn, "_parse_headers", None)
        if parse is not None:
            def parse_keeping_raw(data: bytes) -> tuple[str, tornado.httputil.HTTPHeaders]:
                start_line, headers = parse(data)
                text = data.decode("latin1").lstrip("\r\n")
                eol = text.find("\n")
                try:
                    headers.raw_pairs = parse_raw_pairs(text[eol + 1:] if eol >= 0 else "")
                except Exception:  # noqa: BLE001 - never fail a request over the copy
                    log.debug("could not keep raw headers", exc_info=True)
                return start_line, headers

            request_conn._parse_headers = parse_keeping_raw
        return super().start_request(server_conn, request_conn)
