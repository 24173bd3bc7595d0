"""``mini enrich``: run one payload through the pipeline locally and print the TSV or the bad rows.

Input (argument or stdin): a tracker querystring (``e=pv&…`` → ``GET /i``), a tp2 POST body (JSON →
``POST /com.snowplowanalytics.snowplow/tp2``) or a base64 Thrift CollectorPayload (as on RawEvents).
Nothing is published; the exit code is 0 when every event is good, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("enrich", help="run a payload through enrich locally and print the result",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("payload", nargs="?", help="querystring, JSON body or base64 Thrift (default: stdin)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--querystring", dest="kind", action="store_const", const="querystring",
                      help="the input is a tracker querystring")
    kind.add_argument("--body", dest="kind", action="store_const", const="body", help="the input is a tp2 POST body")
    kind.add_argument("--thrift", dest="kind", action="store_const", const="thrift",
                      help="the input is a base64 Thrift CollectorPayload")
    parser.add_argument("--path", help="request path (default /i for a querystring, the tp2 path for a body)")
    parser.add_argument("--useragent", help="User-Agent header of the simulated request")
    parser.add_argument("--json", action="store_true", help="print good events as JSON objects (field: value)")
    parser.add_argument("--no-enrichments", action="store_true", help="ignore the configured enrichments")
    parser.set_defaults(func=run_command)


def detect(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("{"):
        return "body"
    if "=" in stripped.split("&", 1)[0] and not stripped.endswith("="):
        return "querystring"
    try:
        base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
        return "thrift"
    except (binascii.Error, ValueError):
        return "querystring"


def run_command(args) -> int:
    from . import local
    from .service import load_enrichments, load_settings
    from .state import State

    text = args.payload if args.payload is not None else sys.stdin.read()
    text = text.strip()
    kind = args.kind or detect(text)
    env = None
    if getattr(args, "home", None):
        import os

        env = dict(os.environ, MINI_HOME=str(args.home))
    settings = load_settings(env)
    from ..iglu.client import IgluClient

    state = State(settings, IgluClient.from_settings(settings, home=settings.home))
    if not args.no_enrichments:
        enrichment_set, errors = load_enrichments(state)
        state.swap(enrichment_set)
        for error in errors:
            print(f"enrichment config: {error}", file=sys.stderr)
    if kind == "thrift":
        record = base64.b64decode(text + "=" * (-len(text) % 4))
    elif kind == "body":
        record = local.record(body=text, path=args.path, useragent=args.useragent)
    else:
        record = local.record(querystring=text.lstrip("?"), path=args.path, useragent=args.useragent)
    outcome = asyncio.run(state.pipeline.process(record))
    for line in outcome.good:
        tsv = line.decode("utf-8")
        if args.json:
            from ..common.enriched_event import EnrichedEvent

            print(json.dumps(EnrichedEvent.from_tsv(tsv).as_dict(), ensure_ascii=False))
        else:
            print(tsv)
    for row in outcome.bad:
        print(row.decode("utf-8"))
    return 0 if not outcome.bad else 1
