"""Real PostgreSQL and MariaDB servers for tests: each in a temporary directory, on a free loopback port,
with a user, a password and a database created, stopped and removed afterwards.

Fixtures ``postgres_server`` and ``mysql_server`` (session-scoped) yield a :class:`DatabaseServer`;
they skip, naming the Debian package, when the server programs are missing.  Admin statements run
through the programs' own clients (``psql``, ``mariadb``) over the server's Unix socket, so no Python
driver is needed here.  As root, the servers run as the ``postgres``/``mysql`` system users.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

from mini_kernel.testing.processes import ServiceFailed, wait_for
from mini_kernel.testing.search import free_port


def _which(name: str, *globs: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for pattern in globs:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[-1]  # the newest major version
    return None


@dataclasses.dataclass
class DatabaseServer:
    """Where a test server listens and how to log in; ``config()`` is the enrichment's ``database``."""

    kind: str  # "postgresql" or "mysql"
    host: str
    port: int
    username: str
    password: str
    database: str
    root: Path
    server: Any = dataclasses.field(repr=False, default=None)

    def config(self, **over: Any) -> dict[str, Any]:
        """The ``database`` object of an ``sql_query_enrichment_config``."""
        spec = {"host": self.host, "port": self.port, "sslMode": False, "username": self.username,
                "password": self.password, "database": self.database}
        return {self.kind: {**spec, **over}}

    def execute(self, sql: str) -> str:
        """Run SQL as the administrator in the test database; returns the client's output."""
        return self.server.admin(sql, database=self.database)

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


class _Server:
    """Common process handling: a child process as the service user, its log, a readiness poll."""

    kind = ""
    package = ""
    system_user = ""
    stop_signal = signal.SIGTERM

    def __init__(self, username: str = "snowplow", password: str = "s3cret-pw", database: str = "crm"):
        self.username, self.password, self.database = username, password, database
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"mini-{self.kind}-"))  # not under pytest's 0700 dirs
        self.log_path = self.root / "server.log"
        self.proc: subprocess.Popen | None = None
        self.as_root = os.geteuid() == 0
        if self.as_root:
            entry = pwd.getpwnam(self.system_user)
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
            os.chown(self.root, self.uid, self.gid)

    def _demote(self) -> None:
        if self.as_root:
            os.setgid(self.gid)
            os.setuid(self.uid)

    def run(self, argv: Sequence[str], timeout: float = 300.0, **kw: Any) -> subprocess.CompletedProcess:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=self.root,
                              preexec_fn=self._demote if self.as_root else None, stdin=subprocess.DEVNULL, **kw)
        if done.returncode != 0:
            raise ServiceFailed(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ping(self) -> bool:
        raise NotImplementedError

    def admin(self, sql: str, database: str | None = None) -> str:
        raise NotImplementedError

    def start(self, timeout: float = 120.0) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.root, preexec_fn=self._demote if self.as_root else None)
        log.close()

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise ServiceFailed(f"{self.kind} exited with {self.proc.returncode}:\n{self.log_tail()}")
            return self.ping()

        try:
            wait_for(ready, timeout=timeout, interval=0.1, what=f"{self.kind} on port {self.port}")
        except TimeoutError as exc:
            self.stop()
            raise ServiceFailed(f"{exc}\n{self.log_tail()}") from None

    def stop(self, timeout: float = 60.0) -> None:
        """A clean, fast shutdown that disconnects clients (SIGKILL if it hangs)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def info(self) -> DatabaseServer:
        return DatabaseServer(self.kind, "127.0.0.1", self.port, self.username, self.password, self.database,
                              self.root, self)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class PostgresServer(_Server):
    """PostgreSQL: ``initdb`` a cluster, run ``postgres`` on a free port (TCP on 127.0.0.1 with
    scram passwords, the admin over the socket with trust), create the user and its database."""

    kind, package, system_user = "postgresql", "postgresql", "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown; SIGTERM ("smart") would wait for every client to leave
    GLOB = "/usr/lib/postgresql/*/bin/"

    @classmethod
    def binaries(cls) -> dict[str, str | None]:
        return {name: _which(name, cls.GLOB + name) for name in ("initdb", "postgres", "psql")}

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.bin = self.binaries()
        self.data = self.root / "data"
        self.socket_dir = self.root

    def init(self) -> None:
        self.run([self.bin["initdb"], "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"])

    def command(self) -> list[str]:
        return [self.bin["postgres"], "-D", str(self.data), "-p", str(self.port), "-k", str(self.socket_dir),
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=50", "-c", "shared_buffers=16MB"]

    def psql(self, sql: str, database: str = "postgres", timeout: float = 60.0) -> subprocess.CompletedProcess:
        return subprocess.run([self.bin["psql"], "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres",
                               "-d", database, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def ping(self) -> bool:
        return self.psql("SELECT 1", timeout=10).returncode == 0

    def admin(self, sql: str, database: str | None = None) -> str:
        done = self.psql(sql, database or "postgres")
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def setup(self) -> None:
        self.admin(f"CREATE USER {self.username} PASSWORD {_sql_literal(self.password)}")
        self.admin(f"CREATE DATABASE {self.database} OWNER {self.username}")


class MysqlServer(_Server):
    """MariaDB: ``mariadb-install-db`` a data dir, run ``mariadbd`` on a free port and a socket in the
    temp dir (root over the socket, no password), create the user (``%`` and ``localhost``) and database."""

    kind, package, system_user = "mysql", "mariadb-server", "mysql"

    @classmethod
    def binaries(cls) -> dict[str, str | None]:
        return {"mariadbd": _which("mariadbd", "/usr/sbin/mariadbd"),
                "mariadb-install-db": _which("mariadb-install-db", "/usr/bin/mariadb-install-db"),
                "mariadb": _which("mariadb", "/usr/bin/mariadb")}

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.bin = self.binaries()
        self.data = self.root / "data"
        self.socket = self.root / "mysqld.sock"

    def _user_args(self) -> list[str]:
        return [f"--user={self.system_user}"] if self.as_root else []

    def init(self) -> None:
        self.run([self.bin["mariadb-install-db"], "--no-defaults", f"--datadir={self.data}", *self._user_args(),
                  "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"])

    def command(self) -> list[str]:
        return [self.bin["mariadbd"], "--no-defaults", f"--datadir={self.data}", f"--socket={self.socket}",
                f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-networking=0", *self._user_args(),
                f"--pid-file={self.root / 'mysqld.pid'}", "--skip-name-resolve", "--skip-log-bin",
                "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=0",
                "--performance-schema=OFF", "--max-connections=50"]

    def client(self, sql: str, database: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess:
        argv = [self.bin["mariadb"], "--no-defaults", f"--socket={self.socket}", "-u", "root", "-N", "-B"]
        return subprocess.run(argv + ([database] if database else []) + ["-e", sql],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def ping(self) -> bool:
        return self.socket.exists() and self.client("SELECT 1", timeout=10).returncode == 0

    def admin(self, sql: str, database: str | None = None) -> str:
        done = self.client(sql, database)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb failed: {done.stderr.strip()}")
        return done.stdout

    def setup(self) -> None:
        pw = _sql_literal(self.password)
        self.admin(f"CREATE DATABASE {self.database}; "
                   f"CREATE USER '{self.username}'@'%' IDENTIFIED BY {pw}; "
                   f"CREATE USER '{self.username}'@'localhost' IDENTIFIED BY {pw}; "
                   f"GRANT ALL ON {self.database}.* TO '{self.username}'@'%'; "
                   f"GRANT ALL ON {self.database}.* TO '{self.username}'@'localhost';")


def missing_reason(cls: type[_Server]) -> str | None:
    """Why this server cannot run here (names the Debian package), or None."""
    missing = [name for name, path in cls.binaries().items() if not path]
    if missing:
        return f"needs {', '.join(missing)} (Debian package {cls.package!r}; `make test` installs it as root)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(cls.system_user)
        except KeyError:
            return f"running as root needs the {cls.system_user!r} system user (Debian package {cls.package!r})"
    return None


def running(cls: type[_Server], **kw: Any) -> Iterator[DatabaseServer]:
    """Start a fresh server with its user and database; yield it; stop it and remove its directory."""
    server = cls(**kw)
    try:
        server.init()
        server.start()
        server.setup()
        yield server.info()
    finally:
        server.remove()


def _fixture(cls: type[_Server]) -> Iterator[DatabaseServer]:
    reason = missing_reason(cls)
    if reason:
        pytest.skip(f"{cls.kind}: {reason}")
    yield from running(cls)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[DatabaseServer]:
    """A real PostgreSQL on a free loopback port: user ``snowplow``, database ``crm`` (``.config()``)."""
    yield from _fixture(PostgresServer)


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[DatabaseServer]:
    """A real MariaDB (MySQL protocol) on a free loopback port: user ``snowplow``, database ``crm``."""
    yield from _fixture(MysqlServer)
