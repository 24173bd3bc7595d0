"""The ``mini`` command: ``up``, ``lab``, ``down``, ``status``, ``stop|start|restart SERVICE``, ``logs``.

Every command talks to the data directory's supervisor (``services.supervisor.client.Stack``).
Other pieces add subcommands: each module in ``COMMAND_MODULES`` provides ``register(subparsers)``;
a subcommand's ``func(args) -> int`` finds the data directory in ``args.home`` (a Path).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from services.common.settings import COMMON, SettingsError, load, merge_specs

from . import topology
from .client import Stack, StackDown, resolve_home
from .report import describe
from .settings import SETTINGS

COMMAND_MODULES: tuple[str, ...] = (
    "services.iglu.cli",
    "services.enrich.cli",
    "services.sink.cli",
)

SERVICE_NAMES = [s.name for s in topology.SERVICES]
READY_TIMEOUT = 900.0  # the supervisor's own per-service timeouts report failures well before this
SETTLE_S = 30.0  # after the supervisor is ready, how long an unhealthy service may take to come good


class _Stop(Exception):
    """SIGINT/SIGTERM arrived while the CLI waits in the foreground."""


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop()


# -- starting ----------------------------------------------------------------------------------
def _spawn_supervisor(home: Path, args: argparse.Namespace) -> subprocess.Popen:
    env = dict(os.environ)
    env["MINI_HOME"] = str(home)
    if getattr(args, "port", None) is not None:
        env["MINI_COLLECTOR_PORT"] = str(args.port)
    argv = [sys.executable, "-P", "-m", "services.supervisor", "--data-dir", str(home)]
    if getattr(args, "config", None):
        argv += ["--config", os.path.abspath(args.config)]
    (home / "logs").mkdir(parents=True, exist_ok=True)
    with open(home / "logs" / "supervisor.log", "ab") as out:
        # Its own session: a terminal's Ctrl-C reaches only the CLI, which then stops the stack in order.
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _wait_ready(stack: Stack, proc: subprocess.Popen) -> dict[str, Any] | None:
    deadline = time.monotonic() + READY_TIMEOUT
    settled: float | None = None
    doc: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        info = stack.info()
        if info and info.get("pid") == proc.pid:
            try:
                if stack.ready():
                    doc = stack.status()
                    # A service restarted during start-up (a peer moved, or one slow health probe
                    # on a busy machine) is given a little longer before the stack counts as unhealthy.
                    settled = settled or time.monotonic() + SETTLE_S
                    if doc["healthy"] or time.monotonic() > settled:
                        return doc
            except StackDown:
                pass
        time.sleep(0.2)
    return doc


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _start(args: argparse.Namespace) -> tuple[Stack, subprocess.Popen, dict[str, Any]] | int:
    home = args.home
    stack = Stack(home)
    info = stack.info()
    if info is not None and stack.running():  # (a stale run file whose pid was reused does not count)
        print(f"mini: a Mini stack is already running for {home} (supervisor pid {info['pid']}); "
              f"see `mini status --data-dir {home}`, stop it with `mini down --data-dir {home}`", file=sys.stderr)
        return 1
    print(f"Starting the Mini stack in {home} ...", flush=True)
    proc = _spawn_supervisor(home, args)
    previous = signal.signal(signal.SIGINT, _raise_stop)
    try:
        doc = _wait_ready(stack, proc)
    except _Stop:
        _stop_supervisor(stack, proc)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    if doc is None:
        code = proc.poll()
        print(f"mini: the supervisor {'exited with ' + str(code) if code is not None else 'did not become ready'}; "
              f"its log ({home / 'logs' / 'supervisor.log'}) ends:\n{_tail(home / 'logs' / 'supervisor.log')}",
              file=sys.stderr)
        if code is None:
            _stop_supervisor(stack, proc)
        return 1
    print(describe(doc, home))
    for warning in doc.get("warnings", []):
        banner = "!" * 78
        print(f"{banner}\nWARNING: {warning}\n{banner}", file=sys.stderr)
    return stack, proc, doc


def _stop_supervisor(stack: Stack, proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _foreground(stack: Stack, proc: subprocess.Popen, extra: subprocess.Popen | None = None) -> int:
    """Wait until Ctrl-C/SIGTERM (or the supervisor or ``extra`` exits), then stop everything."""
    handlers = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        while proc.poll() is None and (extra is None or extra.poll() is None):
            time.sleep(0.3)
        if proc.poll() is not None:
            print(f"mini: the supervisor exited with {proc.returncode}", file=sys.stderr)
            code = 1
        elif extra is not None and extra.returncode:
            print(f"mini: JupyterLab exited with {extra.returncode}", file=sys.stderr)
            code = extra.returncode
    except _Stop:
        pass
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, signal.SIG_IGN)
        print("\nStopping the Mini stack ...", flush=True)
        if extra is not None and extra.poll() is None:
            extra.send_signal(signal.SIGTERM)
            try:
                extra.wait(15)
            except subprocess.TimeoutExpired:
                extra.kill()
        _stop_supervisor(stack, proc)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    print("Stopped.")
    return code


def cmd_up(args: argparse.Namespace) -> int:
    started = _start(args)
    if isinstance(started, int):
        return started
    stack, proc, doc = started
    if args.detach:
        return 0 if doc["healthy"] else 1
    print("Press Ctrl-C to stop.", flush=True)
    return _foreground(stack, proc)


def cmd_lab(args: argparse.Namespace) -> int:
    from . import jupyter

    try:
        settings = load(merge_specs(COMMON, SETTINGS), {"home": str(args.home)})
    except SettingsError as exc:
        print(f"mini: {exc}", file=sys.stderr)
        return 2
    started = _start(args)
    if isinstance(started, int):
        return started
    stack, proc, _ = started
    lab = jupyter.start_lab(settings, port=args.lab_port)
    return _foreground(stack, proc, extra=lab)


# -- talking to a running stack ----------------------------------------------------------------
def cmd_down(args: argparse.Namespace) -> int:
    stack = Stack(args.home)
    if stack.info() is None:
        print(f"No Mini stack is running for {args.home}.")
        return 0
    print(f"Stopping the Mini stack in {args.home} ...", flush=True)
    if stack.shutdown(wait=60):
        print("Stopped.")
        return 0
    print("mini: the supervisor did not exit within 60 s", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    stack = Stack(args.home)
    try:
        doc = stack.status()
    except StackDown as exc:
        if args.json:
            print(json.dumps({"running": False, "home": str(args.home), "healthy": False, "services": {}, "topics": {}}))
        print(f"mini: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=2, sort_keys=True) if args.json else describe(doc, args.home))
    return 0 if doc["healthy"] else 1


def cmd_action(args: argparse.Namespace) -> int:
    stack = Stack(args.home)
    try:
        doc = stack.action(args.service, args.command)
    except StackDown as exc:
        print(f"mini: {exc}", file=sys.stderr)
        return 1
    except (LookupError, RuntimeError) as exc:
        print(f"mini: {exc}", file=sys.stderr)
        return 1
    print(f"{args.service}: {doc['state']}" + (f" (pid {doc['pid']}, port {doc['port']})" if doc["pid"] else ""))
    if args.command == "stop":
        return 0 if doc["pid"] is None else 1
    return 0 if doc["healthy"] else 1


def cmd_settings(args: argparse.Namespace) -> int:
    from services.common.settings import merge_specs as merge

    from . import catalog

    rows = catalog.all_settings(args.package or None)
    if args.markdown:
        print(catalog.markdown(rows))
        return 0
    values = None
    if args.values:
        try:
            given = {"home": str(args.home)} if getattr(args, "data_dir", None) else {}
            values = load(merge(*[[s] for _, s in rows]), given, config_file=args.config)
        except SettingsError as exc:
            print(f"mini: {exc}", file=sys.stderr)
            return 2
    print(catalog.text(rows, values))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    path = args.home / "logs" / f"{args.service}.log"
    if not path.exists():
        print(f"mini: no log yet at {path}", file=sys.stderr)
        return 1
    with open(path, "r", encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
        sys.stdout.writelines(lines[-args.lines:] if args.lines > 0 else lines)
        sys.stdout.flush()
        if not args.follow:
            return 0
        try:
            while True:
                line = handle.readline()
                if line:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return 0


# -- the parser ----------------------------------------------------------------------------------
BUILTIN = ("up", "lab", "down", "status", "stop", "start", "restart", "logs", "settings")


def build_parser(extras: bool = True) -> argparse.ArgumentParser:
    """The full parser; ``extras=False`` leaves out COMMAND_MODULES (some import slowly)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help="data directory of the stack (default: $MINI_HOME or ~/.mini)")
    parser = argparse.ArgumentParser(prog="mini", parents=[common],
                                     description="Run and inspect the Mini stack (a single-box Snowplow pipeline).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    for name, func, help in (
        ("up", cmd_up, "Start the supervisor and every service (foreground; --detach to return once ready)."),
        ("lab", cmd_lab, "Start the stack and JupyterLab in the foreground (Ctrl-C stops everything)."),
    ):
        p = add(name, func, help)
        p.add_argument("--port", type=int, default=None,
                       help="public port of the collector (setting collector.port, default 9090; 0: a free port)")
        p.add_argument("--config", metavar="FILE", help="TOML settings file (default: $MINI_HOME/mini.toml)")
        if name == "up":
            p.add_argument("--detach", "-d", action="store_true", help="return once the stack is ready")
        else:
            p.add_argument("--lab-port", type=int, default=None, help="JupyterLab's port (setting lab.port, default 8888)")
    add("down", cmd_down, "Stop the stack (every service, then the supervisor).")
    p = add("status", cmd_status, "Show each service's pid, ports, health, restarts, counters and the topics' depths; "
                                  "exit 1 when anything is unhealthy or the stack is down.")
    p.add_argument("--json", action="store_true", help="print the machine-readable document (the discovery API)")
    for verb in ("stop", "start", "restart"):
        p = add(verb, cmd_action, f"{verb.capitalize()} one service through the supervisor.")
        p.add_argument("service", choices=SERVICE_NAMES, metavar="SERVICE", help=", ".join(SERVICE_NAMES))
    p = add("logs", cmd_logs, "Print a service's log (logs/<service>.log in the data directory).")
    p.add_argument("service", choices=[*SERVICE_NAMES, "supervisor"], metavar="SERVICE",
                   help=", ".join([*SERVICE_NAMES, "supervisor"]))
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-n", "--lines", type=int, default=100, help="lines to print first (0: all; default 100)")
    p = add("settings", cmd_settings, "List every setting of every service: key, environment variable, default, help.")
    p.add_argument("package", nargs="*", help="only these packages (common, broker, collector, ...)")
    p.add_argument("--markdown", action="store_true", help="as README table rows")
    p.add_argument("--values", action="store_true", help="also show each key's value for this data dir and its source")
    p.add_argument("--config", metavar="FILE", help="TOML settings file (default: $MINI_HOME/mini.toml)")
    for module in COMMAND_MODULES if extras else ():
        register = _load_register(module)
        if register is not None:
            register(_WithDataDir(sub, common))
    return parser


class _WithDataDir:
    """The subparsers object handed to ``register``: each added command also takes ``--data-dir``."""

    def __init__(self, sub: Any, common: argparse.ArgumentParser):
        self._sub, self._common = sub, common

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs["parents"] = [*kwargs.get("parents", []), self._common]
        return self._sub.add_parser(name, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._sub, attr)


def _load_register(module_name: str):
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or (exc.name and module_name.startswith(exc.name + ".")):
            return None  # that piece has no subcommands (yet)
        raise
    return getattr(module, "register", None)


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is neither an option nor --data-dir's value)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--data-dir":
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def _data_dir_in(argv: Sequence[str]) -> str | None:
    for index, word in enumerate(argv):
        if word == "--data-dir" and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith("--data-dir="):
            return word.split("=", 1)[1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(extras=_command_of(argv) not in BUILTIN)
    args = parser.parse_args(argv)
    # A subcommand's own --data-dir default (None) can overwrite the top-level value; argv has the truth.
    args.home = resolve_home(getattr(args, "data_dir", None) or _data_dir_in(argv))
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `mini status | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
