"""What the commands reference says beyond Django's own help, kept by hand: whether each command
deletes data, its pitfalls (each with its source: a Django or finflo line of the installed versions,
or Django's documentation), the options an engineer needs for these tasks even where no page uses
them yet, and the engine tools (the database clients `dbshell` starts, the dump tools) with the
meaning of each of their options and its documentation.

Django's help texts come from Django's parsers (commands_reference.py); nothing here repeats them.
A command a page uses that has no entry here stops the build: whether it deletes data is never
left unsaid. Paths like ``django/db/backends/base/schema.py:155`` are relative to the installed
``django/`` (5.2) and ``finflo/`` (2.0.44) packages.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Command:
    """A ``manage.py`` command. ``deletes``: when it deletes data (a warning), None when it never does."""

    deletes: str | None
    pitfalls: tuple[str, ...] = ()
    # Options an engineer needs for these tasks, used on a page or not: option -> why.
    needed: dict[str, str] = field(default_factory=dict)
    listed: bool = False  # listed even when no page uses it (the review asks for it)


@dataclass(frozen=True)
class Option:
    meaning: str  # a sentence starting with a verb
    docs: str


@dataclass(frozen=True)
class Tool:
    """A database client or dump tool. ``engines``: where it applies."""

    title: str
    engines: tuple[str, ...]
    does: str  # a sentence starting with a verb
    docs: str
    options: dict[str, Option]
    deletes: str | None
    pitfalls: tuple[str, ...] = ()



COMMANDS: dict[str, Command] = {
    "migrate": Command(
        deletes=("Un-applying (`migrate APP EARLIER`, `migrate APP zero`) runs each migration's reverse: "
                 "`RemoveField`, `DeleteModel` and the reverse of `AddField`/`CreateModel` drop columns and "
                 "tables with their data. Forward, a migration deletes whatever its operations drop. "
                 "`--fake` and `--prune` change only the `django_migrations` table."),
        pitfalls=(
            "Un-applying an app's migration also un-applies every migration of other apps that depends on "
            "it; `--plan` lists them all before anything runs (`migrate APP zero` included).",
            "On MariaDB and MySQL a failed migration is not rolled back: DDL cannot run in a transaction "
            "there (`can_rollback_ddl` is False, django/db/backends/base/features.py:173; a migration is atomic "
            "only when the engine can roll back DDL, django/db/backends/base/schema.py:155), so its first "
            "operations stay applied and the migration stays unrecorded. SQLite and PostgreSQL roll the "
            "migration back, unless it sets `atomic = False`.",
            "A `RunPython` or `RunSQL` without a reverse cannot be un-applied: `--plan` marks it "
            "`IRREVERSIBLE` (django/core/management/commands/migrate.py:503) and the run stops with "
            "`IrreversibleError`.",
            "`--fake` records migrations as applied (or un-applied) without running them; compare the "
            "schema with `sqlmigrate`'s SQL first.",
            "`--fake-initial` checks only that the tables and columns of an initial migration exist, by "
            "name: not their types, constraints or indexes (django/db/migrations/executor.py:310).",
            "`--run-syncdb` creates tables only for apps without migrations; naming an app that has "
            "migrations stops with `CommandError` (django/core/management/commands/migrate.py:145).",
        ),
        needed={
            "--plan": "Read what will run, and what will be un-applied, before running it.",
            "--prune": "Remove rows of `django_migrations` whose migration files no longer exist (after a "
                       "squash, or after migrations were deleted); needs an app label "
                       "(django/core/management/commands/migrate.py:188-192).",
            "--database": "",
        },
    ),
    "makemigrations": Command(
        deletes=None,
        pitfalls=(
            "It writes into the app's migrations package: for an installed package such as finflo, into "
            "site-packages, unless `MIGRATION_MODULES` points that app's migrations into the project; "
            "another machine then misses the file (`NodeNotFoundError`).",
            "`--check` writes nothing: it implies `--dry-run` "
            "(django/core/management/commands/makemigrations.py:71-76, 117-119) and exits 1 when a model "
            "change has no migration.",
            "Two migrations of one app with the same parent (two branches merged) stop `migrate` with "
            "\"Conflicting migrations detected\"; `makemigrations --merge` writes the merge migration "
            "(django/core/management/commands/migrate.py:127-129).",
        ),
        needed={
            "--merge": "Write a merge migration when two branches each added a migration to one app.",
            "--check": "Fail (exit 1) when a model change has no migration, writing nothing.",
            "--dry-run": "Show the migrations it would write, without writing them.",
        },
    ),
    "showmigrations": Command(
        deletes=None,
        pitfalls=(
            "`[X]` means recorded in `django_migrations`, not that the schema matches: after a failed "
            "migration on MariaDB the schema holds part of a migration shown as `[ ]`.",
        ),
        needed={
            "--plan": "",
            "--database": "",
        },
    ),
    "sqlmigrate": Command(
        deletes=None,
        pitfalls=(
            "It prints the SQL and runs nothing, but it connects to the database: the SQL is the one for "
            "that database's engine.",
            "A `RunPython` operation prints as `-- THIS OPERATION CANNOT BE WRITTEN AS SQL` "
            "(django/db/migrations/migration.py:110-112): what it does to the data is not in the SQL.",
        ),
        needed={
            "--backwards": "Read what un-applying the migration will drop before running it.",
            "--database": "",
        },
        listed=True,
    ),
    "dumpdata": Command(
        deletes=None,
        pitfalls=(
            "It is not a database backup: each model is read in its own query, with no snapshot of a "
            "database in use, and the dump loads only into the same models and migration state. Native "
            "tools (`pg_dump`, `mariadb-dump`, SQLite's `.backup`) copy the database itself.",
            "JSON and JSONL write datetimes to the millisecond (django/core/serializers/json.py:94-96): a JSON "
            "round trip changes every timestamp with microseconds. XML keeps them.",
            "Without `--natural-foreign` and `-e contenttypes -e auth.Permission`, the dump loads only into "
            "a database whose content-type ids are the same.",
            "A model is named by its label, `app_label.ModelName` (`accounts.User`); anything else stops "
            "with `CommandError: Unknown model`.",
            "It reads through each model's default manager; `--all` reads through the base manager, for "
            "rows a custom manager hides.",
            "`-o FILE` replaces FILE.",
        ),
        needed={
            "--exclude": "",
            "--all": "",
            "--database": "",
        },
    ),
    "loaddata": Command(
        deletes=("It overwrites every row whose primary key is in the fixture with the fixture's values "
                 "(django/core/serializers/base.py:265 saves each object with `save_base(raw=True)`, an update when "
                 "the key exists): loaded over live data it reverts later edits of those rows. Rows not in "
                 "the fixture stay."),
        pitfalls=(
            "All fixtures of one call load in one transaction (django/core/management/commands/loaddata.py:102): "
            "give every file of a backup to one call, so rows of one file may refer to rows of another.",
            "Signals fire with `raw=True`; finflo's `post_save` receiver ignores `raw` and creates a "
            "workflow for each work-model row loaded before finflo's own rows (finflo/signals.py:44-53), "
            "in the default database whatever `--database` says (it writes through the default manager).",
            "`--ignorenonexistent` drops fields and models the current code no longer has, for a backup "
            "taken before a field was removed.",
        ),
        needed={
            "--database": "",
            "--exclude": "",
            "--app": "",
        },
    ),
    "flush": Command(
        deletes=("It deletes every row of every table of the database (it keeps `django_migrations`), then "
                 "re-creates only what `post_migrate` handlers create: content types and permissions "
                 "(django/core/management/commands/flush.py:85-88). Data migrations do not run again: finflo's seeded "
                 "rows are gone."),
        pitfalls=(
            "`--noinput` deletes without asking.",
            "`sqlflush` prints the SQL `flush` would run, and runs nothing.",
        ),
        needed={"--database": ""},
    ),
    "sqlflush": Command(deletes=None, pitfalls=("It prints SQL only; nothing is deleted.",)),
    "dbshell": Command(
        deletes="It runs whatever SQL it is given: `DROP SCHEMA`, `DROP DATABASE`, or a dump file's `DROP TABLE`s.",
        pitfalls=(
            "Everything after `--` goes to the database client, not to Django "
            "(django/core/management/commands/dbshell.py:25-31, `parameters`): psql's `-v`, `-c` and `-f` are "
            "psql's options. Each client is described below.",
            "The client program must be installed where `manage.py` runs; otherwise `CommandError: You "
            "appear not to have the 'psql' program installed or on your path.`",
        ),
    ),
    "shell": Command(
        deletes="It runs whatever Python code it is given, with the project's models and database.",
        pitfalls=(
            "Django 5.2 imports every model into the shell and says so (\"N objects imported "
            "automatically\", django/core/management/commands/shell.py:195-214); `-v 0` keeps that line out of "
            "the output, `--no-imports` skips the imports.",
        ),
    ),
    "createsuperuser": Command(
        deletes=None,
        pitfalls=(
            "`--noinput` reads `DJANGO_SUPERUSER_USERNAME`, `DJANGO_SUPERUSER_EMAIL` and "
            "`DJANGO_SUPERUSER_PASSWORD`; without the password it still creates the user, with no usable "
            "password (django/contrib/auth/management/commands/createsuperuser.py:102).",
        ),
    ),
    "test": Command(
        deletes=("It creates a separate test database (`test_` + the database's name), runs the tests and "
                 "destroys it; if that database exists already it asks first, and `--noinput` destroys it "
                 "without asking."),
    ),
    "check": Command(deletes=None),
    "squashmigrations": Command(
        deletes=None,
        pitfalls=("Keep the squashed migrations until every database has applied the squash; then delete "
                  "them and `migrate --prune` their rows.",),
    ),
}

_PG = "https://www.postgresql.org/docs/15"
_MARIADB = "https://mariadb.com/kb/en"
_SQLITE = "https://sqlite.org/cli.html"

TOOLS: dict[str, Tool] = {
    "psql": Tool(
        title="psql", engines=("postgresql",),
        does="Runs SQL against a PostgreSQL database; `dbshell` starts it with the project's connection settings.",
        docs=f"{_PG}/app-psql.html",
        options={
            "-c": Option("Runs one command string and exits; repeated, the strings run in order, each in its "
                         "own transaction unless `--single-transaction`.", f"{_PG}/app-psql.html"),
            "-f": Option("Reads the commands from a file, then exits.", f"{_PG}/app-psql.html"),
            "--quiet": Option("Prints no informational messages.", f"{_PG}/app-psql.html"),
            "-q": Option("Prints no informational messages.", f"{_PG}/app-psql.html"),
            "--output": Option("Sends the query results to a file (`/dev/null`: nowhere); errors still go to "
                               "standard error.", f"{_PG}/app-psql.html"),
            "-v": Option("Sets a psql variable, `-v NAME=VALUE` (not Django's verbosity): `ON_ERROR_STOP=1` "
                         "stops at the first failing statement with exit code 3; without it psql carries on "
                         "after an error in a script (`-f`, standard input) and exits 0.", f"{_PG}/app-psql.html#APP-PSQL-VARIABLES"),
            "--set": Option("Sets a psql variable, like `-v`.", f"{_PG}/app-psql.html#APP-PSQL-VARIABLES"),
            "--single-transaction": Option("Runs all `-c` and `-f` commands in one transaction; with "
                                           "`ON_ERROR_STOP=1` a failure rolls all of it back.",
                                           f"{_PG}/app-psql.html"),
            "-1": Option("Runs all `-c` and `-f` commands in one transaction (`--single-transaction`).",
                         f"{_PG}/app-psql.html"),
            "-X": Option("Reads no `~/.psqlrc`.", f"{_PG}/app-psql.html"),
            "<": Option("Reads SQL from standard input (a file).", f"{_PG}/app-psql.html"),
        },
        deletes="It runs whatever SQL it is given (`DROP SCHEMA public CASCADE` drops every table).",
        pitfalls=("Without `-v ON_ERROR_STOP=1` a script that fails halfway exits 0: a restore that "
                  "failed looks like one that worked.",),
    ),
    "mysql": Tool(
        title="mysql (MariaDB's mariadb)", engines=("mariadb",),
        does="Runs SQL against a MariaDB or MySQL database; `dbshell` starts it (Django's MySQL backend runs "
             "`mysql`, which MariaDB installs as a link to `mariadb`).",
        docs=f"{_MARIADB}/mariadb-command-line-client/",
        options={
            "-e": Option("Runs the given statements and exits.", f"{_MARIADB}/mariadb-command-line-client/"),
            "-N": Option("Prints no column names (`--skip-column-names`), for output a script reads.",
                         f"{_MARIADB}/mariadb-command-line-client/"),
            "--skip-column-names": Option("Prints no column names, for output a script reads.",
                                          f"{_MARIADB}/mariadb-command-line-client/"),
            "-B": Option("Prints tab-separated rows, one per line (`--batch`).", f"{_MARIADB}/mariadb-command-line-client/"),
            "--batch": Option("Prints tab-separated rows, one per line.", f"{_MARIADB}/mariadb-command-line-client/"),
            "--execute": Option("Runs the given statements and exits.", f"{_MARIADB}/mariadb-command-line-client/"),
            "<": Option("Reads SQL from standard input (a file); stops at the first error.",
                        f"{_MARIADB}/mariadb-command-line-client/"),
        },
        deletes="It runs whatever SQL it is given (`DROP DATABASE`; a dump's `DROP TABLE` before each table).",
    ),
    "sqlite3": Tool(
        title="sqlite3", engines=("sqlite",),
        does="Opens a SQLite database file; `dbshell` starts it on the project's database file.",
        docs=_SQLITE,
        options={
            ".backup": Option("Writes a consistent copy of the open database to a file (SQLite's online "
                              "backup API).", _SQLITE),
            ".restore": Option("Replaces the whole content of the open database with a file's.",
                               _SQLITE),
            ".dump": Option("Prints the database as SQL.", _SQLITE),
            ".schema": Option("Prints the `CREATE` statements of the named tables (all tables without a name).",
                              _SQLITE),
            ".tables": Option("Lists the tables.", _SQLITE),
            ".read": Option("Runs the SQL of a file.", _SQLITE),
            "<": Option("Reads SQL or dot-commands from standard input (a file).", _SQLITE),
        },
        deletes="`.restore` replaces every table of the open database; SQL it is given runs as written.",
    ),
    "pg_dump": Tool(
        title="pg_dump", engines=("postgresql",),
        does="Writes a consistent copy of one PostgreSQL database, schema and data, taken in one snapshot "
             "while the database stays in use.",
        docs=f"{_PG}/app-pgdump.html",
        options={
            "--clean": Option("Writes `DROP` statements before each `CREATE` into the dump: restoring it "
                              "replaces the objects it holds.", f"{_PG}/app-pgdump.html"),
            "--if-exists": Option("Writes `DROP … IF EXISTS` (with `--clean`), so a restore into an empty "
                                  "database raises no errors.", f"{_PG}/app-pgdump.html"),
            "--file": Option("Writes the dump to a file instead of standard output.", f"{_PG}/app-pgdump.html"),
            "-f": Option("Writes the dump to a file instead of standard output.", f"{_PG}/app-pgdump.html"),
            "-Fc": Option("Writes the custom format, which `pg_restore` reads (compressed, selective "
                          "restore).", f"{_PG}/app-pgdump.html"),
            "--format": Option("Chooses the output format: `plain` SQL (default), `custom`, `directory`, "
                               "`tar`.", f"{_PG}/app-pgdump.html"),
            "--no-owner": Option("Writes no `ALTER … OWNER` statements.", f"{_PG}/app-pgdump.html"),
        },
        deletes=None,
        pitfalls=("A dump made with `--clean` drops the objects it holds when it is restored.",),
    ),
    "pg_dumpall": Tool(
        title="pg_dumpall", engines=("postgresql",),
        does="Writes every database of a PostgreSQL server as SQL; with `--globals-only`, only what belongs to "
             "the server rather than to one database: roles and tablespaces, which `pg_dump` leaves out.",
        docs=f"{_PG}/app-pg-dumpall.html",
        options={
            "--globals-only": Option("Writes only roles and tablespaces, no databases.", f"{_PG}/app-pg-dumpall.html"),
            "-g": Option("Writes only roles and tablespaces, no databases (`--globals-only`).",
                         f"{_PG}/app-pg-dumpall.html"),
            "--no-role-passwords": Option("Leaves the roles' passwords out, so a non-superuser can run it; the "
                                          "restored roles have no password.", f"{_PG}/app-pg-dumpall.html"),
            "--file": Option("Writes to a file instead of standard output.", f"{_PG}/app-pg-dumpall.html"),
            "-f": Option("Writes to a file instead of standard output.", f"{_PG}/app-pg-dumpall.html"),
            "-l": Option("Names the database to connect to (`--database`).", f"{_PG}/app-pg-dumpall.html"),
        },
        deletes=None,
    ),
    "pg_restore": Tool(
        title="pg_restore", engines=("postgresql",),
        does="Restores a database from a `pg_dump` archive (custom, directory or tar format).",
        docs=f"{_PG}/app-pgrestore.html",
        options={
            "--clean": Option("Drops each object before re-creating it.", f"{_PG}/app-pgrestore.html"),
            "--if-exists": Option("Drops with `IF EXISTS` (with `--clean`).", f"{_PG}/app-pgrestore.html"),
            "-d": Option("Restores into the named database.", f"{_PG}/app-pgrestore.html"),
            "--dbname": Option("Restores into the named database.", f"{_PG}/app-pgrestore.html"),
            "--single-transaction": Option("Restores in one transaction: all or nothing.",
                                           f"{_PG}/app-pgrestore.html"),
            "--exit-on-error": Option("Stops at the first error (by default it carries on).",
                                      f"{_PG}/app-pgrestore.html"),
            "--no-owner": Option("Restores without setting the objects' owners.", f"{_PG}/app-pgrestore.html"),
            "--jobs": Option("Restores with that many parallel jobs (custom or directory format only).",
                             f"{_PG}/app-pgrestore.html"),
            "-j": Option("Restores with that many parallel jobs (custom or directory format only).",
                         f"{_PG}/app-pgrestore.html"),
        },
        deletes="`--clean` drops every object of the archive in the target database before re-creating it.",
    ),
    "mariadb-dump": Tool(
        title="mariadb-dump (mysqldump)", engines=("mariadb",),
        does="Writes a MariaDB or MySQL database as SQL statements that re-create its tables and rows.",
        docs=f"{_MARIADB}/mariadb-dump/",
        options={
            "--single-transaction": Option("Reads every InnoDB table in one transaction: a consistent "
                                           "snapshot without locking the tables (not for MyISAM tables, and "
                                           "broken by DDL during the dump).", f"{_MARIADB}/mariadb-dump/"),
            "--routines": Option("Includes stored procedures and functions.", f"{_MARIADB}/mariadb-dump/"),
            "--result-file": Option("Writes the dump to a file instead of standard output.",
                                    f"{_MARIADB}/mariadb-dump/"),
            "-r": Option("Writes the dump to a file instead of standard output.", f"{_MARIADB}/mariadb-dump/"),
            "--triggers": Option("Includes triggers (on by default).", f"{_MARIADB}/mariadb-dump/"),
            "--events": Option("Includes the event scheduler's events.", f"{_MARIADB}/mariadb-dump/"),
            "--no-data": Option("Writes the tables' definitions without their rows.", f"{_MARIADB}/mariadb-dump/"),
        },
        deletes=None,
        pitfalls=("The dump starts each table with `DROP TABLE IF EXISTS` (`--add-drop-table`, on by "
                  "default): restoring it replaces those tables.",),
    ),
}
# Other names of the same program.
TOOL_ALIASES = {"mariadb": "mysql", "mysqldump": "mariadb-dump"}


def tool_key(name: str) -> str | None:
    """The TOOLS entry of a program name, or None when it is not an engine tool."""
    name = TOOL_ALIASES.get(name, name)
    return name if name in TOOLS else None
