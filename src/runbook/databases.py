"""Scratch databases: one fresh database per run, on SQLite, PostgreSQL or MariaDB.

A run gets its own database (a new SQLite file, or a uniquely named database on the server) and
drops it afterwards, also when the run fails, so runs can go side by side.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .errors import BadInput

ENGINES = ("sqlite", "postgresql", "mariadb")

# The servers scratch databases are made on; override for other hosts or credentials.
SERVER_URLS = {
    "postgresql": os.environ.get("RUNBOOK_POSTGRES_URL", "postgres://postgres@localhost:5432/postgres"),
    "mariadb": os.environ.get("RUNBOOK_MARIADB_URL", "mysql://root@localhost:3306/mysql"),
}
# How long to wait for a server that went away (a restart) before leaving a scratch database behind.
DROP_PATIENCE = float(os.environ.get("RUNBOOK_DROP_PATIENCE", "30"))
_SCHEMES = {
    "sqlite": "sqlite", "postgres": "postgresql", "postgresql": "postgresql", "pgsql": "postgresql",
    "mysql": "mariadb", "mariadb": "mariadb",
}


@dataclass(frozen=True)
class Database:
    """A database a runbook runs against, named by the URL Django's settings read."""

    url: str

    @property
    def engine(self) -> str:
        return engine_of(self.url)

    @property
    def name(self) -> str:
        path = urlsplit(self.url).path
        return path if self.engine == "sqlite" else path.lstrip("/")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "localhost"

    def with_name(self, name: str) -> "Database":
        parts = urlsplit(self.url)
        return Database(urlunsplit(parts._replace(path="/" + name)))

    def server_version(self) -> str:
        if self.engine == "sqlite":
            import sqlite3
            return sqlite3.sqlite_version
        with _connect(self) as conn, conn.cursor() as cur:
            cur.execute("SELECT version()")
            return str(cur.fetchone()[0]).split(" on ")[0]

    def check_reachable(self) -> None:
        """Raise BadInput in one line when the server cannot be reached."""
        if self.engine == "sqlite":
            folder = Path(self.name).parent
            if not folder.is_dir():
                raise BadInput(f"SQLite database folder does not exist: {folder}")
            return
        try:
            with _connect(self):
                pass
        except Exception as exc:  # each driver has its own error classes
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BadInput(f"cannot reach the {self.engine} server at {self.host}: {first_line}") from None


def engine_of(url: str) -> str:
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme not in _SCHEMES:
        raise BadInput(f"unsupported database URL scheme {scheme!r}: use sqlite://, postgres:// or mysql://")
    return _SCHEMES[scheme]


@contextlib.contextmanager
def scratch_database(engine: str, folder: Path, label: str, server: "Database | None" = None):
    """Create a fresh, empty database for one run and drop it afterwards, whatever happens.

    ``server`` (default: SERVER_URLS[engine]) is the server to create it on.
    """
    if engine not in ENGINES:
        raise BadInput(f"unknown engine {engine!r}: choose from {', '.join(ENGINES)}")
    if engine == "sqlite":
        # The file appears on the first migrate; the run's temporary folder removes it.
        yield Database(f"sqlite:///{folder / 'db.sqlite3'}")
        return
    server = server or Database(SERVER_URLS[engine])
    server.check_reachable()
    name = f"rb_{_identifier(label)[:40]}_{secrets.token_hex(4)}"
    _execute(server, f"CREATE DATABASE {name}" + (" CHARACTER SET utf8mb4" if engine == "mariadb" else ""))
    try:
        yield server.with_name(name)
    finally:
        drop_database(server, name)


def drop_database(server: Database, name: str, patience: float = DROP_PATIENCE) -> None:
    """Drop ``name``; while the server is unreachable (restarting), retry for ``patience`` seconds.

    Raises ``DropFailed``, naming the database left behind, when the server stays away.
    """
    sql = f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if server.engine == "postgresql" else "")
    deadline = time.monotonic() + patience
    while True:
        try:
            _execute(server, sql)
            return
        except Exception as exc:  # each driver has its own error classes
            if time.monotonic() >= deadline:
                first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise DropFailed(
                    f"could not drop the scratch database {name} on the {server.engine} server at "
                    f"{server.host}:{urlsplit(server.url).port or ''} ({first_line}); drop it by hand: "
                    f"DROP DATABASE {name}"
                ) from None
            time.sleep(1)


class DropFailed(Exception):
    """A scratch database could not be dropped: it is left on the server."""


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower())


def _execute(server: Database, sql: str) -> None:
    with _connect(server) as conn, conn.cursor() as cur:
        cur.execute(sql)


def _connect(db: Database):
    parts = urlsplit(db.url)
    if db.engine == "postgresql":
        import psycopg
        return psycopg.connect(
            host=parts.hostname, port=parts.port or 5432, user=parts.username,
            password=parts.password, dbname=db.name or "postgres", autocommit=True, connect_timeout=5,
        )
    import pymysql
    return pymysql.connect(
        host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
        password=parts.password or "", database=db.name or None, autocommit=True, connect_timeout=5,
    )
