"""`python -m runbook.verify`: the health checks every runbook ends with, for any finflo project.

Run it in the project's folder. It checks that finflo's seeded rows exist (the states, signatures,
RETURN action and one Flowmodel per FINFLO["WORK_MODEL"] that finflo's data migrations create) and
prints the row count of every table, so a reader can compare before and after. Exit 1 on a failed
check.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runbook.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--counts", action="store_true", help="print the row count of every table")
    args = parser.parse_args(argv)
    _setup_django(Path.cwd())
    problems = finflo_problems()
    if args.counts:
        for table, count in table_counts().items():
            print(f"{table:<45} {count:>7}")
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        return 1
    print("finflo seeded rows: OK")
    return 0


def finflo_problems() -> list[str]:
    from django.conf import settings
    from finflo.models import Action, Flowmodel, SignList, States

    problems = []
    if SignList.objects.count() < 4:
        problems.append(f"finflo SignList has {SignList.objects.count()} rows, expected 4 signatures")
    if not States.objects.filter(description__iexact="draft").exists():
        problems.append("finflo States has no DRAFT state")
    if not Action.objects.filter(description="RETURN").exists():
        problems.append("finflo Action has no RETURN action")
    problems += [f"written into the installed finflo package: {f}" for f in files_not_installed_by_pip("finflo")]
    for label in settings.FINFLO["WORK_MODEL"]:
        if not Flowmodel.objects.filter(description=label.lower()).exists():
            problems.append(f"finflo Flowmodel has no row for work model {label}")
    return problems


def files_not_installed_by_pip(distribution: str) -> list[str]:
    """Python files in an installed package that its wheel did not install (e.g. a makemigrations)."""
    from importlib.metadata import distribution as dist

    installed = dist(distribution)
    recorded = {str(f) for f in installed.files or ()}
    package = Path(installed.locate_file(distribution))
    return sorted(
        str(p.relative_to(package.parent)) for p in package.rglob("*.py")
        if str(p.relative_to(package.parent)) not in recorded
    )


def table_counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        counts = {}
        for table in sorted(connection.introspection.table_names()):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def _setup_django(project: Path) -> None:
    manage = project / "manage.py"
    if not manage.is_file():
        sys.exit(f"error: not a Django project (no manage.py): {project}")
    match = re.search(r"DJANGO_SETTINGS_MODULE['\"],\s*['\"]([\w.]+)", manage.read_text())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", match.group(1) if match else "config.settings")
    sys.path.insert(0, str(project))
    import django

    django.setup()


if __name__ == "__main__":
    sys.exit(main())
