"""`runbook doctor`'s checks, run inside the operator's project by the project's own Python.

Run as a script (``python checks.py [--target APP:MIGRATION]``) with DJANGO_SETTINGS_MODULE set, the
project on sys.path and a scratch folder as the current one (finflo writes finflo.log there). It
imports only the standard library and the project's Django, so it needs nothing of runbook in the
project's environment. It only reads: Django's migration loader, the executor's plan, the
autodetector and the recorder, and SELECTs; no migration is applied, no row or file written.

It prints one line, ``RUNBOOK-DOCTOR {json}``: the findings (kind, what, evidence, the names
involved), what could not be checked and why, the project's apps a migration cycle with finflo runs
through (``cycle_apps``), or ``bad_input``. Which page fixes a finding is
decided by the runner (src/runbook/doctor/pages.py), not here.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

MARK = "RUNBOOK-DOCTOR "


class Report:
    def __init__(self):
        self.findings: list[dict] = []
        self.not_checked: list[str] = []

    def add(self, kind: str, what: str, evidence: list[str], **names) -> None:
        self.findings.append({"kind": kind, "what": what, "evidence": evidence, "names": names})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", required=True)
    parser.add_argument("--target")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.project)
    import django

    try:
        problem = _database_read_only(Path(args.project))
        if problem:
            return _emit({"bad_input": problem})
        django.setup()
    except Exception as exc:  # the project's own settings or apps fail to load: nothing to diagnose
        return _emit({"bad_input": f"cannot load the Django project: {type(exc).__name__}: {_first_line(exc)}"})
    from django.apps import apps
    from django.conf import settings

    report = Report()
    loader = _graph(report)
    target = None
    if args.target:
        target = _target(loader, args.target) if loader else None
        if isinstance(target, str):
            return _emit({"bad_input": target})
    if loader is not None:
        _history(report, loader)
        _conflicts(report, loader)
        _unapplied(report, loader)
        _model_changes(report, loader)
        _stale_rows(report, loader)
        if target:
            _irreversible(report, loader, target)
    else:
        report.not_checked.append("history, conflicts, unapplied migrations, model changes, stale rows"
                                  + (" and --target" if args.target else "") + ": the migration graph does not load")
    _unshipped_package_migrations(report)
    finflo = apps.is_installed("finflo")
    if finflo:
        _finflo_migration_modules(report, settings)
        _finflo_rows(report, settings)
    return _emit({"python": sys.executable, "django": django.get_version(), "finflo": finflo,
                  "findings": report.findings, "not_checked": report.not_checked, "cycle_apps": _cycle_apps(settings)})


def _database_read_only(project: Path) -> str | None:
    """Make every connection refuse writes (the session, not only this code, is read-only); a reason
    to stop when the database is a SQLite file that does not exist, which connecting would create."""
    from django.conf import settings
    from django.db.backends.signals import connection_created

    database = settings.DATABASES.get("default", {})
    if database.get("ENGINE", "").endswith("sqlite3"):
        name = str(database.get("NAME", ""))
        if name and name != ":memory:" and not name.startswith("file:"):
            path = (project / name).resolve()  # relative as manage.py sees it, from the project's folder
            if not path.is_file():
                return f"the project's SQLite database {path} does not exist (doctor creates nothing)"
            database["NAME"] = str(path)
    statements = {"sqlite": "PRAGMA query_only = ON", "postgresql": "SET default_transaction_read_only = on",
                  "mysql": "SET SESSION TRANSACTION READ ONLY"}

    def read_only(sender, connection, **kwargs):
        if connection.vendor in statements:
            with connection.cursor() as cursor:
                cursor.execute(statements[connection.vendor])

    connection_created.connect(read_only, weak=False)
    return None


# -- the migration graph -----------------------------------------------------------------------------

def _graph(report: Report):
    """The loader with the graph and the applied rows, or None after reporting why the graph does not load."""
    from django.db import connection
    from django.db.migrations.exceptions import CircularDependencyError, NodeNotFoundError
    from django.db.migrations.loader import MigrationLoader

    try:
        return MigrationLoader(connection, ignore_no_migrations=True)
    except CircularDependencyError as exc:
        report.add("cycle", "the migrations depend on each other in a circle, so no migration command works",
                   [f"Django: CircularDependencyError: {exc}"], migrations=str(exc))
    except NodeNotFoundError as exc:
        _missing_dependency(report, exc)
    return None


def _cycle_apps(settings) -> dict:
    """The project's apps a cycle with finflo runs through: the app of AUTH_USER_MODEL (finflo's first
    migration depends on it) and the project's other apps whose models and its models refer to each
    other (found from the models, which hold whatever the migrations folders do), each with the
    folder its migrations are in. Empty when the user model is not one of the project's own apps."""
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    user_app = settings.AUTH_USER_MODEL.split(".")[0]
    if user_app not in apps.app_configs or _distribution(apps.get_app_config(user_app).name) is not None:
        return {}
    linked = set()
    for model in apps.get_app_config(user_app).get_models(include_auto_created=True):
        for field in model._meta.get_fields(include_hidden=True):
            if field.is_relation and field.related_model is not None and not isinstance(field.related_model, str):
                linked.add(field.related_model._meta.app_label)
    others = sorted(label for label in linked - {user_app}
                    if _distribution(apps.get_app_config(label).name) is None)

    def folder(label: str) -> str | None:
        module, _ = MigrationLoader.migrations_module(label)
        config = apps.get_app_config(label)
        return str(Path(config.path) / "migrations") if module == f"{config.name}.migrations" else None

    return {"user_app": user_app, "other_apps": others, "folders": {a: folder(a) for a in [user_app, *others]}}


def _missing_dependency(report: Report, exc) -> None:
    app, name = exc.node
    origin = exc.origin  # the Migration that names the missing one (a key tuple in some Django paths)
    if hasattr(origin, "app_label"):
        origin = f"{origin.app_label}.{origin.name}"
    elif isinstance(origin, tuple):
        origin = f"{origin[0]}.{origin[1]}"
    else:
        origin = "a migration"
    evidence = [f"Django: NodeNotFoundError: {exc.message}"]
    in_package = _package_migration_file(app, name)
    if in_package:
        module, _ = _migrations_module(app)
        evidence.append(f"{app}.{name} is in the installed package's folder, {in_package}, not in the project's "
                        f"migrations module {module!r}: a makemigrations wrote it into site-packages on one machine")
        report.add("missing-dependency-in-package",
                   f"{origin} depends on {app}.{name}, which exists only inside the installed package {app}",
                   evidence, app=app, migration=name, origin=origin)
    else:
        report.add("missing-dependency", f"{origin} depends on {app}.{name}, which no migrations folder has",
                   evidence, app=app, migration=name, origin=origin)


def _history(report: Report, loader) -> None:
    from django.db import connection
    from django.db.migrations.exceptions import InconsistentMigrationHistory

    try:
        loader.check_consistent_history(connection)
    except InconsistentMigrationHistory as exc:
        report.add("inconsistent-history", "the database records a migration as applied before one it depends on",
                   [f"Django: InconsistentMigrationHistory: {exc}"])


def _conflicts(report: Report, loader) -> None:
    for app, names in sorted(loader.detect_conflicts().items()):
        undo = sorted(names)[-1]  # one branch to roll back: to its parent in the same app
        parents = sorted(p.key[1] for p in loader.graph.node_map[(app, undo)].parents if p.key[0] == app)
        report.add("conflicting-leaves", f"the app {app} has {len(names)} latest migrations, which no merge joins",
                   [f"{app}: {', '.join(sorted(names))} (makemigrations --check says: Conflicting migrations)"],
                   app=app, target=parents[0] if parents else "zero")


def _unapplied(report: Report, loader) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = [m for m, backwards in executor.migration_plan(executor.loader.graph.leaf_nodes()) if not backwards]
    if plan:
        apps = sorted({m.app_label for m in plan})
        report.add("unapplied", f"{_count(len(plan), 'migration')} not applied to this database",
                   [f"migrate would apply: {', '.join(f'{m.app_label}.{m.name}' for m in plan)}"], apps=apps)


def _model_changes(report: Report, loader) -> None:
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.questioner import MigrationQuestioner
    from django.db.migrations.state import ProjectState

    # The base questioner answers with defaults and never exits (the non-interactive one exits 3).
    detector = MigrationAutodetector(loader.project_state(), ProjectState.from_apps(apps),
                                     MigrationQuestioner(specified_apps=set(), dry_run=True))
    changes = detector.changes(graph=loader.graph)
    for app, migrations in sorted(changes.items()):
        operations = [op.describe() for migration in migrations for op in migration.operations]
        report.add("finflo-model-changes" if app == "finflo" else "model-changes",
                   f"the models of {app} have changes that no migration records",
                   [f"makemigrations {app} would write: {'; '.join(operations)}"], app=app)


def _stale_rows(report: Report, loader) -> None:
    # As `migrate --prune` picks them: recorded, no file, in an app with migrations, not replaced by a squash.
    replaced = {key for migration in loader.replacements.values() for key in migration.replaces}
    stale = sorted(key for key in set(loader.applied_migrations) - set(loader.disk_migrations)
                   if key[0] in loader.migrated_apps and key not in replaced)
    if stale:
        apps = sorted({app for app, _ in stale})
        report.add("stale-rows", f"django_migrations records {_count(len(stale), 'migration')} with no file",
                   [f"rows without a file: {', '.join(f'{a}.{n}' for a, n in stale)}"], apps=apps)


def _target(loader, text: str):
    """(app, name or None for zero), or a one-line reason the target is bad input."""
    from django.db.migrations.exceptions import AmbiguityError

    app, _, name = text.partition(":")
    if app not in loader.migrated_apps:
        return f"--target {text}: the project has no app {app!r} with migrations"
    if name == "zero":
        return (app, None)
    try:
        migration = loader.get_migration_by_prefix(app, name)
    except AmbiguityError:
        return f"--target {text}: more than one migration of {app} starts with {name!r}"
    except KeyError:
        return f"--target {text}: {app} has no migration {name!r}"
    return (app, migration.name)


def _irreversible(report: Report, loader, target) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    plan = MigrationExecutor(connection).migration_plan([target])
    blocked = list(dict.fromkeys(f"{m.app_label}.{m.name}: {_irreversible_operation(op)}" for m, backwards in plan
                                 if backwards for op in m.operations if not op.reversible))
    app, name = target
    if blocked:
        report.add("irreversible", f"migrating {app} back to {name or 'zero'} meets operations that cannot be undone",
                   [f"migrate {app} {name or 'zero'} would stop at: {'; '.join(blocked)}"], app=app,
                   target=name or "zero")


def _irreversible_operation(operation) -> str:
    from django.db.migrations.operations import RunPython, RunSQL

    if isinstance(operation, RunPython):
        return f"RunPython {getattr(operation.code, '__name__', 'code')} (no reverse_code)"
    if isinstance(operation, RunSQL):
        return "RunSQL (no reverse_sql)"
    return operation.describe()


# -- installed packages ------------------------------------------------------------------------------

def _unshipped_package_migrations(report: Report) -> None:
    from django.apps import apps

    for config in apps.get_app_configs():
        dist = _distribution(config.name)
        folder = Path(config.path) / "migrations"
        if dist is None or not folder.is_dir():
            continue
        # Only the distribution's migration files: resolving all of Django's took seconds.
        shipped = {Path(dist.locate_file(f)).resolve() for f in dist.files or [] if "migrations" in f.parts}
        extra = sorted(p for p in folder.glob("*.py") if p.name != "__init__.py" and p.resolve() not in shipped)
        if extra:
            report.add("unshipped-package-migrations",
                       f"the installed package {config.label} has migration files its distribution did not ship",
                       [f"not in {dist.metadata['Name']} {dist.version}'s RECORD: {', '.join(map(str, extra))}"],
                       app=config.label)


def _package_migration_file(app: str, name: str) -> Path | None:
    from django.apps import apps

    if app not in apps.app_configs:  # keyed by label
        return None
    config = apps.get_app_config(app)
    file = Path(config.path) / "migrations" / f"{name}.py"
    return file if file.is_file() and _distribution(config.name) is not None else None


def _distribution(module: str):
    """The installed distribution that ships ``module`` (a top-level package), or None for the project's own."""
    from importlib import metadata

    for dist_name in _packages_distributions().get(module.split(".")[0], []):
        return metadata.distribution(dist_name)
    return None


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    """Read once: each call reads every installed distribution's metadata (a third of a second here)."""
    from importlib import metadata

    return metadata.packages_distributions()


def _migrations_module(app: str):
    from django.db.migrations.loader import MigrationLoader

    return MigrationLoader.migrations_module(app)


# -- finflo --------------------------------------------------------------------------------------------

def _finflo_migration_modules(report: Report, settings) -> None:
    if "finflo" not in getattr(settings, "MIGRATION_MODULES", {}):
        report.add("finflo-migration-modules",
                   "finflo is installed without MIGRATION_MODULES for it: makemigrations writes its migrations into "
                   "site-packages",
                   [f"settings.MIGRATION_MODULES = {getattr(settings, 'MIGRATION_MODULES', {})!r}"])


def _finflo_rows(report: Report, settings) -> None:
    from django.apps import apps
    from django.db import DatabaseError

    from finflo.models import Action, Flowmodel, SignList, States, TransitionManager

    work_models = list(getattr(settings, "FINFLO", {}).get("WORK_MODEL", []))
    try:
        missing = []
        if SignList.objects.count() < 4:
            missing.append(f"SignList has {SignList.objects.count()} rows, finflo seeds 4 signatures")
        if not States.objects.filter(description__iexact="draft").exists():
            missing.append("States has no DRAFT state")
        if not Action.objects.filter(description="RETURN").exists():
            missing.append("Action has no RETURN action")
        if missing:
            report.add("finflo-seeded-rows", "rows finflo's migrations seed are missing", missing)
        for label in work_models:
            if not Flowmodel.objects.filter(description=label.lower()).exists():
                report.add("work-model-without-flowmodel",
                           f"FINFLO['WORK_MODEL'] names {label}, which has no Flowmodel row",
                           [f"Flowmodel rows: {', '.join(Flowmodel.objects.values_list('description', flat=True)) or 'none'}"],
                           model=label)
            model = apps.get_model(label)
            have = set(TransitionManager.objects.filter(type=model._meta.label_lower).values_list("t_id", flat=True))
            without = [pk for pk in model.objects.values_list("pk", flat=True) if pk not in have]
            if without:
                shown = ", ".join(map(str, without[:10])) + (f" and {len(without) - 10} more" if len(without) > 10 else "")
                report.add("rows-without-workflows", f"{_count(len(without), 'row')} of the work model {label} without "
                           "a workflow",
                           [f"{model._meta.db_table} rows with no finflo TransitionManager (type "
                            f"{model._meta.label_lower!r}): ids {shown}"], model=label)
    except DatabaseError as exc:  # finflo's or a work model's table is not there yet (see the unapplied migrations)
        report.not_checked.append(f"finflo's rows: {_first_line(exc)}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _emit(result: dict) -> int:
    print(MARK + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
