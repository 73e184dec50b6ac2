"""Make captured output fit to publish: no secrets, no volatile details.

Outputs go into records, executed notebooks and pages; they must not carry passwords, the
SECRET_KEY or temporary paths, and must compare equal from one run to the next.
"""
from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_URL_PASSWORD = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://[^:/@\s]+):[^@\s]+@")
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:?\d{2}|Z)?")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_SCRATCH_DB = re.compile(r"\brb_[a-z0-9_]+_[0-9a-f]{8}\b")


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
