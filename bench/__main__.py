"""``python -m bench [--smoke] [NAME ...]``: run every benchmark module (or the named ones), each in its
own process, and print their figures.  Exits non-zero if any benchmark failed; never judges times.
"""

from __future__ import annotations

import argparse
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def modules() -> list[str]:
    """Benchmark module names: every module in this package except the package machinery."""
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)])
                  if not m.name.startswith("_") and not m.ispkg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks every benchmark runs (seconds)")
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    names = args.names or modules()
    if args.list:
        print("\n".join(names))
        return 0
    unknown = set(names) - set(modules())
    if unknown:
        parser.error(f"no benchmark named {', '.join(sorted(unknown))} (have: {', '.join(modules())})")
    failed = []
    for name in names:
        print(f"=== bench.{name}{' (smoke)' if args.smoke else ''}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}", *(["--smoke"] if args.smoke else [])],
                               cwd=HERE.parent)
        print(f"=== bench.{name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - started:.1f} s\n",
              flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
