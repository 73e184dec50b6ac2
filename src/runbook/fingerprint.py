"""`python -m runbook.fingerprint`: the row count and a hash of the ordered rows of every table.

Run it in a Django project's folder (DATABASE_URL names the database). It prints one JSON object,
``{"table": {"rows": N, "sha256": "…"}}``: rows are read in primary-key order and each value is
written in one canonical form, so two databases on the same engine with the same rows give the
same hashes. Used to prove that a backup restores every row.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbook.fingerprint", description=__doc__.splitlines()[0])
    parser.add_argument("--exclude", action="append", default=[], metavar="TABLE", help="leave this table out")
    parser.add_argument("--milliseconds", action="store_true",
                        help="cut datetimes to the millisecond, as Django's JSON serializer (dumpdata) keeps them")
    args = parser.parse_args(argv)
    from .verify import _setup_django

    _setup_django(Path.cwd())
    print(json.dumps(fingerprints(exclude=set(args.exclude), milliseconds=args.milliseconds), indent=1, sort_keys=True))
    return 0


def fingerprints(exclude: set[str] = frozenset(), milliseconds: bool = False) -> dict[str, dict]:
    from django.db import connection

    result = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(include_views=False)):
            if table in exclude:
                continue
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            keys = connection.introspection.get_primary_key_columns(cursor, table) or columns
            order = ", ".join(quote(k) for k in keys)
            cursor.execute(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} ORDER BY {order}")
            digest, count = hashlib.sha256(), 0
            for row in cursor.fetchall():
                digest.update(json.dumps([_canonical(v, milliseconds) for v in row], ensure_ascii=False).encode())
                digest.update(b"\n")
                count += 1
            result[table] = {"rows": count, "sha256": digest.hexdigest()}
    return result


def _canonical(value, milliseconds: bool = False):
    if isinstance(value, (datetime, time)) and milliseconds:
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return repr(value)
    return value


if __name__ == "__main__":
    sys.exit(main())
