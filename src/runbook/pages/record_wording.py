"""How pages name the engines, versions and dates of validation records, in one place so that every
macro words them alike."""
from __future__ import annotations

from datetime import datetime

from ..records import RunRecord

ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mariadb": "MariaDB"}


def engine_list(engines) -> str:
    """"SQLite", "SQLite and MariaDB", "SQLite, PostgreSQL and MariaDB"."""
    names = [ENGINE_NAMES[e] for e in engines]
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def engine_version(engine: str, versions: dict[str, str]) -> str:
    """"SQLite 3.40.1", "PostgreSQL 15.20 (Debian …)": the name once, then the server's version."""
    name, version = ENGINE_NAMES[engine], versions.get(engine, "")
    return version if version.lower().startswith(name.lower()) else f"{name} {version}".strip()


def date(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def ci_note(engine: str) -> str:
    """Instead of an output this build has no record of: no claim, just the fact."""
    name = ENGINE_NAMES[engine]
    return (f'!!! note "No {name} output in this build"\n\n'
            f"    This build has no {name} record (`runbook validate --engine {engine}` makes one); the "
            "published site is built only when every engine passed.")


def mode(record: RunRecord) -> str:
    """How the record's commands ran: "preloaded (230 forked, 3 real processes)" or "real processes"."""
    if record.mode == "preloaded":
        counts = record.preload or {}
        return f"preloaded ({counts.get('forked', 0)} forked, {counts.get('real', 0)} real processes)"
    return "real processes"


def mode_phrase(record: RunRecord) -> str:
    """The same, for the end of a status line: "with preloaded commands", "with every command a real process"."""
    return "with preloaded commands" if record.mode == "preloaded" else "with every command a real process"
