"""``mini iglu lint|push|mirror``: the schema developer's tools on the command line.

Each subcommand is a thin wrapper over a Python API (``lint.lint_paths``, ``push.push``,
``mirror.mirror``), so notebooks get the same behaviour.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import lint as lint_mod


def register(subparsers) -> None:
    iglu = subparsers.add_parser("iglu", help="Iglu schema tools: lint, push to the local Iglu Server, mirror a registry.")
    sub = iglu.add_subparsers(dest="iglu_command", required=True)

    p = sub.add_parser("lint", help="Lint schemas like igluctl lint (non-zero exit on any issue).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="schema files or static-registry folders")
    p.add_argument("--skip-checks", default=None,
                   help="comma-separated non-error linters to skip (default: Iglu Central CI's list; '' runs all): "
                        + ",".join(lint_mod.SKIPPABLE))
    p.add_argument("--skip-schemas", default="", help="comma-separated iglu: URIs to leave out")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("push", help="Publish a static-registry tree to an Iglu Server in SchemaVer order.")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--public", action="store_true", help="publish as public schemas (isPublic=true)")
    p.add_argument("--server", default=None, help="Iglu Server base URL (default: the local one of MINI_HOME)")
    p.add_argument("--api-key", default=None, help="API key with write rights (default: the local super key)")
    p.add_argument("--data-dir", default=None, help="MINI_HOME holding the local server's run file")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("mirror", help="Copy a whole static registry into a folder for offline use.")
    p.add_argument("--from", dest="source", default="http://iglucentral.com", help="registry URL or folder")
    p.add_argument("--to", dest="target", required=True, help="destination folder (add it to MINI_IGLU_MIRROR_DIRS)")
    p.set_defaults(func=cmd_mirror)


def cmd_lint(args) -> int:
    skips = lint_mod.IGLU_CENTRAL_SKIP if args.skip_checks is None else [s.strip() for s in args.skip_checks.split(",")]
    try:
        report = lint_mod.lint_paths(args.paths, skips, [s for s in args.skip_schemas.split(",") if s])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_json(), indent=2) if args.json else report.text())
    return 0 if report.ok else 1


def cmd_push(args) -> int:
    from services.common.settings import load

    from .push import push, summary
    from .settings import SETTINGS, local_server

    home = args.data_dir or getattr(args, "home", None)  # `mini` puts the data dir in args.home
    settings = load(SETTINGS, {"home": str(home)} if home else None)
    url, key = local_server(settings, settings.home)
    server, api_key = args.server or url, args.api_key or key
    if not server or not api_key:
        print("error: no Iglu Server known: start Mini (mini up) or pass --server and --api-key", file=sys.stderr)
        return 2
    results = push(args.dir, server, api_key, public=args.public)
    print(summary(results))
    return 0 if results and all(r.ok for r in results) else 1


def cmd_mirror(args) -> int:
    from .mirror import MirrorError, mirror

    try:
        paths = mirror(args.source, args.target)
    except (MirrorError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(paths)} schemas copied from {args.source} to {args.target}; "
          f"use them offline with MINI_IGLU_MIRROR_DIRS={args.target}")
    return 0


def main(argv=None) -> int:
    """``python -m services.iglu.cli ...`` for use without the ``mini`` command."""
    parser = argparse.ArgumentParser(prog="mini")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
