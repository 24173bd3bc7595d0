"""A stand-in service for supervisor tests: ``/health`` on a free port, run file with the peer address
it was given (``MINI_STANDIN_PEER``); ``STANDIN_HANG=1`` makes it hang before ever serving; while the
file ``STANDIN_SICK_FILE`` names exists, its ``/health`` answers 503."""

import asyncio
import os
import sys

import tornado.web

from services.common import service
from services.common.http import HealthHandler


class Running:
    def __init__(self, server, port):
        self.server = server
        self.ports = {"port": port}
        self.run_info = {"peer": os.environ.get("MINI_STANDIN_PEER", "")}

    def status(self):
        return {"counters": {"up": 1}}

    async def close(self):
        self.server.stop()


async def start(settings):
    if os.environ.get("STANDIN_HANG"):
        await asyncio.Event().wait()
    sick = os.environ.get("STANDIN_SICK_FILE")
    check = (lambda: "sick" if os.path.exists(sick) else None) if sick else None
    app = tornado.web.Application([(r"/health", HealthHandler, {"check": check})])
    server = app.listen(0, address="127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    return Running(server, port)


if __name__ == "__main__":
    argv = sys.argv[1:]
    name = argv.pop(argv.index("--name") + 1)  # the run file's name: --name NAME
    argv.remove("--name")
    sys.exit(service.main(name, "A stand-in service.", (), start, argv))
