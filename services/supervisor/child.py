"""Run one stack service under the supervisor: ``python -m services.supervisor.child MODULE [ARGS]``.

It asks Linux to send it SIGTERM when the supervisor dies (so a ``kill -9`` of the supervisor leaves
no orphans), then runs ``MODULE`` exactly as ``python -m MODULE`` would, in this same process.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the supervisor's own cleanup still applies
        return
    if parent and os.getppid() != parent:  # the supervisor died before prctl took effect
        sys.exit(0)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m services.supervisor.child MODULE [ARGS...]")
    module = sys.argv[1]
    _die_with_parent(int(os.environ.get("MINI_SUPERVISOR_PID", "0") or 0))
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
