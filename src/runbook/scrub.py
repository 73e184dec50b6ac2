"""Make captured output fit to publish: no secrets, no volatile details.

Outputs go into records, executed notebooks and pages; they must not carry passwords, the
SECRET_KEY or temporary paths, and must compare equal from one run to the next.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_URL_PASSWORD = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://[^:/@\s]+):[^@\s]+@")
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:?\d{2}|Z)?")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_SCRATCH_DB = re.compile(r"\brb_[a-z0-9_]+_[0-9a-f]{8}\b")
# Environment variables whose values are masked wherever they appear in an output.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE", re.I)
# Shorter values ("1", "true", "dev") would mask ordinary words; real secrets are longer.
MIN_SECRET_LENGTH = 8
_READ_SECRET_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def secrets_of(env: dict[str, str], database_url: str, project: Path | None = None) -> tuple[str, ...]:
    """What a run must never publish: the values of secret-looking environment variables, passwords
    in the database URL and in URLs in the environment, and, for an operator's ``project``, its
    settings.SECRET_KEY (read once, with ``manage.py shell``)."""
    found = [v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH]
    for value in [database_url, *env.values()]:
        if "://" in value:
            try:
                found.append(urlsplit(value).password or "")
            except ValueError:
                pass
    if project is not None:
        found.append(settings_secret_key(project, {**env, "DATABASE_URL": database_url}))
    # Longest first: a secret that contains another is masked whole.
    return tuple(sorted({s for s in found if s and len(s) >= 4}, key=len, reverse=True))


def settings_secret_key(project: Path, env: dict[str, str]) -> str:
    """The project's settings.SECRET_KEY, or "" if the project cannot say (a broken project is no error here)."""
    try:
        proc = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", _READ_SECRET_KEY], cwd=project,
            env={**os.environ, **env, "PYTHONDONTWRITEBYTECODE": "1"}, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if proc.returncode == 0 and lines else ""


def scrub(text: str, replacements: dict[str, str] | None = None, secrets: tuple[str, ...] = ()) -> str:
    """Return ``text`` with paths and names replaced, secrets masked and volatile parts fixed."""
    text = _ANSI.sub("", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    # Longest first, so a folder is replaced before the folder that contains it.
    for old, new in sorted((replacements or {}).items(), key=lambda kv: -len(kv[0])):
        if old:
            text = text.replace(old, new)
    text = _URL_PASSWORD.sub(r"\g<scheme>:********@", text)
    text = _SCRATCH_DB.sub("<database>", text)
    text = _TIMESTAMP.sub("<timestamp>", text)
    return _ADDRESS.sub("0x…", text)
