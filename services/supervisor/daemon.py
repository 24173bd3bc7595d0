"""Run the supervisor as a process: settings, the data-dir lock, the HTTP API, signals, clean exit.

``run/supervisor.json`` (pid, API port) is written once the API listens and removed on exit; the
CLI waits for ``GET /status`` to report ``supervisor.ready`` before it prints where things are.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from typing import Callable, Sequence

import tornado.httpserver
import tornado.netutil

from services.common.service import read_run_file, setup_logging, write_run_file
from services.common.settings import COMMON, HOME, Settings, SettingsError, add_arguments, load, merge_specs

from .api import make_app
from .settings import SETTINGS
from .supervisor import AlreadyRunning, Supervisor, lock_data_dir, reap_orphans
from .topology import PEER_SETTINGS

log = logging.getLogger("services.supervisor")

SPEC = merge_specs(COMMON, SETTINGS, PEER_SETTINGS)

# The Iglu piece's "Iglu Central unreachable and nothing cached or mirrored?" check:
# ``services.iglu.offline_check(iglu_settings) -> warning text | None``.
IGLU_CHECK = ("services.iglu", "offline_check", "services.iglu.settings")


def find_iglu_check(config_file: str | None = None) -> Callable[[Settings], str | None] | None:
    """The check, bound to settings resolved with the Iglu keys (mirror dirs, resolver config)."""
    module_name, attr, settings_module = IGLU_CHECK
    try:
        check = getattr(importlib.import_module(module_name), attr, None)
        iglu_spec = getattr(importlib.import_module(settings_module), "SETTINGS", ())
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        log.warning("cannot import %s: %s", module_name, exc)
        return None
    except Exception as exc:  # someone's half-written module must not stop the stack
        log.warning("cannot import %s: %s", module_name, exc)
        return None
    if not callable(check):
        return None

    def bound(settings: Settings) -> str | None:
        iglu_settings = load(merge_specs(COMMON, iglu_spec), {"home": str(settings.home)}, config_file=config_file)
        return check(iglu_settings)

    return bound


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.supervisor",
                                description="The Mini supervisor: runs and watches every service of the stack "
                                            "for one data directory (started by `mini up`).")
    add_arguments(p, merge_specs((HOME,), SPEC))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        settings = load(SPEC, args)
    except SettingsError as exc:
        p.error(str(exc))
    setup_logging(settings["log.level"])
    logging.getLogger("tornado.access").setLevel(logging.WARNING)  # the CLI polls /status
    try:
        lock = lock_data_dir(settings.home)
    except AlreadyRunning as exc:
        print(f"mini: {exc}", file=sys.stderr)
        return 2
    extra = ("--config", os.path.abspath(args.config)) if args.config else ()
    try:
        return asyncio.run(_run(settings, extra))
    finally:
        lock.close()


async def _run(settings: Settings, extra: tuple[str, ...]) -> int:
    home = settings.home
    reap_orphans(home)
    try:
        supervisor = Supervisor(settings, extra, iglu_check=find_iglu_check(extra[1] if extra else None))
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    sockets = tornado.netutil.bind_sockets(settings["supervisor.port"], address="127.0.0.1")
    server = tornado.httpserver.HTTPServer(make_app(supervisor))
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    supervisor.api_url = f"http://127.0.0.1:{port}"
    write_run_file(home, "supervisor", {"port": port}, data_dir=str(home))
    log.info("supervisor for %s: API http://127.0.0.1:%d", home, port)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: loop.create_task(supervisor.shutdown()))
    startup = asyncio.create_task(supervisor.start_all())
    await supervisor.stopped.wait()
    startup.cancel()
    await asyncio.gather(startup, return_exceptions=True)
    server.stop()
    current = read_run_file(home, "supervisor")
    if current and current.get("pid") == os.getpid():
        (home / "run" / "supervisor.json").unlink(missing_ok=True)
    return 0
