"""A real PostgreSQL server for the tests and the soak, started from the machine's own binaries.

It lives in a temporary folder and listens on 127.0.0.1 at a free port (and on a Unix
socket in that folder), with durability off (`fsync=off`: the data is thrown away).
PostgreSQL refuses to run as root, so as root every server command runs as the
`postgres` user (`runuser -u postgres -- ...`), in a folder that user owns. One server
serves a whole test session; each test gets a schema of its own (`url(schema)`).
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "rarereads"  # the server's superuser (initdb -U); connections need no password (trust, loopback only)
ENABLE = ("install PostgreSQL's server (Debian: apt-get install postgresql) and the postgres extra "
          "(pip install -e '.[postgres]') to run them")


class Unavailable(RuntimeError):
    """No server can start here; the message says why."""


def bindir() -> Path | None:
    """The folder with `initdb` and `pg_ctl`: Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path and shutil.which("initdb") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One throw-away PostgreSQL server; `start()`, `url()`, `stop()` (also a context manager)."""

    def __init__(self) -> None:
        self.root: Path | None = None
        self.port = 0
        self._bin = bindir()
        self._as_postgres = os.geteuid() == 0
        self._watchdog: subprocess.Popen | None = None

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = ["runuser", "-u", "postgres", "--", *argv] if self._as_postgres else list(argv)
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def start(self) -> "PgServer":
        if self._bin is None:
            raise Unavailable(f"no PostgreSQL server binaries (initdb, pg_ctl) on this machine; {ENABLE}")
        try:
            import psycopg  # noqa: F401 - the store needs it; without it there is nothing to test
        except ImportError:
            raise Unavailable(f"psycopg is not installed; {ENABLE}") from None
        self.root = Path(tempfile.mkdtemp(prefix="rarereads-pg-"))
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        data = self.root / "data"
        done = self._run(str(self._bin / "initdb"), "-D", str(data), "-A", "trust", "-U", USER, "-E", "UTF8",
                         "--no-sync", "--no-instructions")
        if done.returncode:
            self._cleanup()
            raise Unavailable(f"initdb failed: {(done.stderr or done.stdout).strip()[-300:]}")
        for attempt in range(3):  # a free port can be taken between choosing it and listening on it
            self.port = _free_port()
            options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                       "-c full_page_writes=off -c max_connections=200")
            done = self._run(str(self._bin / "pg_ctl"), "-D", str(data), "-w", "-t", "30", "-o", options,
                             "-l", str(self.root / "server.log"), "start")
            if done.returncode == 0:
                self._watch()
                return self
        log = (self.root / "server.log").read_text(errors="replace")[-300:] if (self.root / "server.log").exists() else ""
        self._cleanup()
        raise Unavailable(f"pg_ctl start failed: {(done.stderr or done.stdout).strip()[-200:]} {log}")

    def url(self, schema: str | None = None, database: str = "postgres") -> str:
        """A URL for the server; with `schema`, one whose tables all go to that (new) schema."""
        base = f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"
        if schema is None:
            return base
        import psycopg

        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        return f"{base}?options=-csearch_path%3D{schema}"

    def database(self, name: str) -> str:
        """The URL of a new database `name` (for settings that apply to a whole database)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(database=name)

    def sql(self, url: str, *statements: str) -> None:
        """Run `statements` against `url` as the server's superuser (tests damage stores with it)."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def _watch(self) -> None:
        """A watchdog that stops the server if this process dies without stopping it (a test run
        killed outright): a throw-away server must never outlive its run."""
        runas = "runuser -u postgres -- " if self._as_postgres else ""
        script = (f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
                  f"{runas}{self._bin / 'pg_ctl'} -D {self.root / 'data'} -m immediate stop; rm -rf {self.root}")
        self._watchdog = subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.root is None:
            return
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> "PgServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

