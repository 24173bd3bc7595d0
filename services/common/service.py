"""Run one pipeline service as a process: settings, logging, run file, signals, clean shutdown.

A service module provides ``async def start(settings) -> Running`` and calls :func:`main` from its
``__main__``.  It runs on uvloop when installed (``common.event_loop``), writes
``$MINI_HOME/run/<name>.json`` (pid and real ports, DESIGN §6 discovery) once the service is up, and
removes it after a clean stop on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol, Sequence

from . import settings as settings_mod
from .settings import Setting, Settings

log = logging.getLogger(__name__)


class Running(Protocol):
    """What ``start`` returns: the ports it bound, its counters, and how to stop it."""

    ports: dict[str, int]

    def status(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def run_dir(home: Path) -> Path:
    path = Path(home) / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to ``path`` so readers never see a partial file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def write_run_file(home: Path, name: str, ports: dict[str, int], **extra: Any) -> Path:
    """Record a running service's pid and ports under ``$MINI_HOME/run/<name>.json``."""
    path = run_dir(home) / f"{name}.json"
    write_json_atomic(path, {"name": name, "pid": os.getpid(), "started": time.time(), **ports, **extra})
    return path


def read_run_file(home: Path, name: str) -> dict[str, Any] | None:
    path = Path(home) / "run" / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def quiet_gc(young: int | None = 20_000) -> None:
    """Keep the garbage collector out of a busy service's way: collect start-up garbage, freeze what is left
    (modules, the app, the data dir's state) out of every later full collection, and (``young``) collect
    young garbage less often — every message, request or document allocates a few tracked objects."""
    gc.collect()
    gc.freeze()
    if young is not None:
        gc.set_threshold(young, 20, 20)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop a service runs on: uvloop's (libuv; less CPU per socket event and callback,
    Tornado and pynsq run on it unchanged) unless ``asyncio`` is chosen or uvloop is not installed."""
    if choice == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.info("uvloop is not installed: running on asyncio's event loop")
            return None
        return uvloop.new_event_loop
    return None


def run(coro: Awaitable[Any], choice: str) -> Any:
    """``asyncio.run`` on the chosen loop (see :func:`loop_factory`)."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(coro)


def main(
    name: str | Callable[[Settings], str],
    description: str,
    spec: Sequence[Setting],
    start: Callable[[Settings], Awaitable[Running]],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse settings (``--help`` lists them all), start the service and run until signalled.

    ``name`` names the run file; a callable derives it from the settings (the sink runs twice).
    """
    spec = settings_mod.merge_specs(settings_mod.COMMON, spec)
    prog = f"python -m services.{name if isinstance(name, str) else description.split()[0].lower()}"
    settings = settings_mod.parse_cli(prog, description, spec, argv)
    setup_logging(settings["log.level"])
    run_name = name if isinstance(name, str) else name(settings)
    return run(_serve(run_name, settings, start), settings["common.event_loop"])


async def _serve(name: str, settings: Settings, start: Callable[[Settings], Awaitable[Running]]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = await start(settings)
    # Extra run-file fields a service wants discoverable (e.g. the iglu super API key for `mini status`).
    path = write_run_file(settings.home, name, running.ports, **getattr(running, "run_info", {}))
    log.info("%s up: %s (%s event loop)", name, " ".join(f"{k}={v}" for k, v in running.ports.items()),
             type(loop).__module__.split(".")[0])
    await stop.wait()
    log.info("%s stopping", name)
    try:
        await asyncio.wait_for(running.close(), timeout=8)
    except asyncio.TimeoutError:
        log.error("%s did not stop within 8 s", name)
    finally:
        # Only remove the file if it is still ours (a restarted successor may have rewritten it).
        current = read_run_file(settings.home, name)
        if current and current.get("pid") == os.getpid():
            path.unlink(missing_ok=True)
    return 0
