"""The commands reference: one entry per `manage.py` command and engine tool the pages use, options
with their real meaning (after `dbshell --` they are the client's), a warning on every command that
deletes data, engine marks only where a line ran, never a sample-only line as an example."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from runbook import notebooks
from runbook.databases import ENGINES
from runbook.pages import commands_reference as reference
from runbook.pages.command_notes import COMMANDS, TOOLS
from runbook.pages.command_uses import MANAGE, Use, uses, uses_of_line
from runbook.pages.page_places import Place, places
from runbook.pages.sources import PageSources
from runbook.records import CellRecord, RunRecord
from runbook.shellwords import programs as _programs

PLACE = Place("how-to/x.md", "How to x", "the-procedure", "The procedure")


@pytest.mark.parametrize("command, programs", [
    ("python manage.py migrate --plan", [("manage.py migrate", ["--plan"])]),
    ("DATABASE_URL={x} python manage.py migrate", [("manage.py migrate", [])]),
    ('rm -v "$(python manage.py shell -c "print(1); print(2)")"',
     [("manage.py shell", ["-c", "print(1); print(2)"]), ("rm", ["-v", "SUBSTITUTED"])]),
    ('DB="$(python manage.py shell -c \'print(1)\')" && echo "$DB"',
     [("manage.py shell", ["-c", "print(1)"]), ("echo", ["$DB"])]),
    ("git status --short && test -z \"$(git status --porcelain)\"",
     [("git status", ["--porcelain"]), ("git status", ["--short"]), ("test", ["-z", "SUBSTITUTED"])]),
])
def test_programs_of_a_shell_line(command, programs):
    assert _programs(command) == programs


def a_cell(engines=None, *, role="procedure", destructive=False) -> notebooks.Cell:
    return notebooks.Cell(index=2, id="a-cell", source="", tags=(), expect=notebooks.Expectation(),
                          engines=engines, role=role, destructive=destructive)


def a_runbook(cell: notebooks.Cell, slug: str = "x") -> notebooks.Runbook:
    return notebooks.Runbook(slug=slug, path=Path(f"{slug}.ipynb"), title="How to x", destructive=False, cells=[cell])


def used(line: str, engines=None) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    cell = a_cell(engines)
    return [(u.kind, u.name, u.options, u.engines) for u in uses_of_line(line, a_runbook(cell), cell, PLACE)]


@pytest.mark.parametrize("line, engines, expected", [
    # psql's -v is a psql variable: it belongs to psql, not to Django's dbshell (review §6.1).
    ("python manage.py dbshell -- --quiet --output=/dev/null -v ON_ERROR_STOP=1 --single-transaction "
     "-f \"$BACKUP_DIR/database.sql\"", ["postgresql"],
     [(MANAGE, "dbshell", (), ("postgresql",)),
      ("tool", "psql", ("--quiet", "--output", "-v", "--single-transaction", "-f"), ("postgresql",))]),
    # A cell for every engine starts each engine's own client.
    ("python manage.py dbshell < \"$BACKUP_DIR/database.sql\"", None,
     [(MANAGE, "dbshell", (), ENGINES), ("tool", "sqlite3", ("<",), ("sqlite",)),
      ("tool", "psql", ("<",), ("postgresql",)), ("tool", "mysql", ("<",), ("mariadb",))]),
    ("python manage.py dbshell -- \".backup '$BACKUP_DIR/database.sqlite3'\"", ["sqlite"],
     [(MANAGE, "dbshell", (), ("sqlite",)), ("tool", "sqlite3", (".backup",), ("sqlite",))]),
    # A dump tool started from a Python one-liner.
    ("python manage.py shell --no-imports -c \"import os, subprocess; raise SystemExit(subprocess.run(['pg_dump', "
     "*args[1:], '--clean', '--if-exists', '--file=' + os.environ['BACKUP_DIR'] + '/database.sql']).returncode)\"",
     ["postgresql"],
     [(MANAGE, "shell", ("--no-imports", "-c"), ("postgresql",)),
      ("tool", "pg_dump", ("--clean", "--if-exists", "--file"), ("postgresql",))]),
    # A program named in a call, options as f-strings; options handed to Django's settings_to_cmd_args_env.
    ("python manage.py shell -v 0 -c \"import os, subprocess; from django.db import connection as c; run = lambda tool, "
     "*opts: subprocess.run([tool, *opts]); d = os.environ['BACKUP_DIR']; run('pg_dump', '--format=custom', "
     "f'--file={d}/database.dump')\"", ["postgresql"],
     [(MANAGE, "shell", ("-v", "-c"), ("postgresql",)),
      ("tool", "pg_dump", ("--format", "--file"), ("postgresql",))]),
    ("python manage.py shell -c \"import subprocess; from django.db import connection as c; args, env = "
     "c.client.settings_to_cmd_args_env(c.settings_dict, ['--jobs=2', '--exit-on-error', '-d']); "
     "subprocess.run(['pg_restore', *args[1:], 'database.dump'])\"", ["postgresql"],
     [(MANAGE, "shell", ("-c",), ("postgresql",)),
      ("tool", "pg_restore", ("--jobs", "--exit-on-error", "-d"), ("postgresql",))]),
    # A tool for another engine than the cell's is not used there.
    ("mariadb-dump --single-transaction db", ["postgresql"], []),
    # The sample-only settings are not an option a reader uses; plumbing gets no entry.
    ("test -f config/sample_only.py && THROWAWAY_DATABASE_URL=x python manage.py flush "
     "--settings=config.sample_only --noinput && echo done", None,
     [(MANAGE, "flush", ("--noinput",), ENGINES)]),
    ("git restore accounts/models.py && rm -r accounts/migrations && cat x | wc -l", None, []),
])
def test_commands_and_options_of_a_line(line, engines, expected):
    assert used(line, engines) == expected


def test_a_sample_only_line_is_marked_so():
    cell = a_cell()
    for line in ("python manage.py migrate --settings=config.sample_only",
                 "test -f config/sample_only.py && rm -r accounts/migrations && python manage.py makemigrations"):
        assert all(u.sample_only for u in uses_of_line(line, a_runbook(cell), cell, PLACE)), line
    assert not any(u.sample_only for u in uses_of_line("python manage.py migrate", a_runbook(cell), cell, PLACE))


# -- what the pages use, as they stand ---------------------------------------------------------------

@pytest.fixture(scope="module")
def sources() -> PageSources:
    return PageSources(lambda: "reference/commands.md")


@pytest.fixture(scope="module")
def page_uses(sources) -> list[Use]:
    return uses(sources)


@pytest.fixture(scope="module")
def rendered(sources) -> str:
    return reference.commands_reference(sources)


def entries(markdown: str) -> dict[str, str]:
    """Each entry of the rendered reference, by its heading."""
    parts = re.split(r"^### `([^`]+)`$", markdown, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_command_and_tool_option_the_pages_use_is_described(sources, page_uses):
    """Django describes its commands' options; whether a command deletes data, and what a client's
    option means, are ours to say: a command or option without them fails here (and the build)."""
    django = reference._django_help(sources, {u.name: [u] for u in page_uses if u.kind == MANAGE})
    missing = set()
    for use in page_uses:
        if (use.kind == MANAGE and use.name not in COMMANDS and django[use.name]["help"] is not None
                and not reference._sample_command(use.name)):
            missing.add(f"COMMANDS: {use.name} ({use.runbook.slug} › {use.cell.id})")
        if use.kind == "tool":
            missing |= {f"TOOLS[{use.name!r}].options: {o}" for o in use.options if o not in TOOLS[use.name].options}
    assert not missing, "describe in src/runbook/pages/command_notes.py: " + ", ".join(sorted(missing))


def test_one_entry_per_command_and_no_plumbing(rendered, page_uses):
    names = list(entries(rendered))
    assert len(names) == len(set(names)), names
    for plumbing in ("cat", "echo", "wc", "grep", "rm", "git restore", "git status", "diff", "ls"):
        assert plumbing not in names
    # Not Django's and not a command: the sample's own command, and the old guide's `dbflush`.
    assert "drop_tables" not in names and "dbflush" not in names
    assert "drop_tables" not in rendered and "dbflush" not in rendered
    # Every command and tool a page uses has its entry.
    used_names = {u.name for u in page_uses} - {"drop_tables", "dbflush"}
    assert used_names <= set(names), used_names - set(names)


def test_no_example_is_a_sample_only_line_and_no_machinery(rendered):
    assert "config.sample_only" not in rendered and "sample_only.py" not in rendered
    assert "THROWAWAY_DATABASE_URL" not in rendered
    for page_word in ("runbook", "Runbook", "cell"):
        assert not re.search(rf"\b{page_word}\b", rendered), page_word


def test_every_command_that_deletes_data_carries_its_warning(rendered):
    for name, entry in entries(rendered).items():
        note = COMMANDS.get(name) or TOOLS.get(name)
        if note.deletes:
            # Right after what it does: before its options, examples and anything a reader copies.
            assert entry.lstrip().split("\n\n")[1].startswith('!!! danger "Deletes data"'), name
        else:
            assert "Deletes no data." in entry, name


def test_a_destructive_step_is_never_listed_without_a_warning(page_uses):
    """Each line of a cell marked destructive: if it shows under an entry, that entry warns."""
    for use in page_uses:
        if not use.cell.destructive or use.sample_only:
            continue
        warned = [u for u in page_uses if u.line == use.line
                  and (COMMANDS.get(u.name) if u.kind == MANAGE else TOOLS.get(u.name)).deletes]
        assert warned, f"{use.line!r} deletes data, yet no entry it shows under warns"


def test_the_commands_the_tasks_need_are_listed_used_or_not(rendered, page_uses):
    """Review §0.5 and §6.6: sqlmigrate (--backwards), migrate --prune, makemigrations --merge,
    showmigrations --plan, --database; dumpdata --database/--all/--exclude, loaddata
    --database/--exclude/--app. Whether a page uses them is derived, never written down."""
    listed = entries(rendered)
    needed = {"sqlmigrate": ["--backwards", "--database"], "migrate": ["--prune", "--database", "--plan"],
              "makemigrations": ["--merge"], "showmigrations": ["--plan", "--database"],
              "dumpdata": ["--database", "--all", "--exclude"], "loaddata": ["--database", "--exclude", "--app"]}
    for name, options in needed.items():
        entry = listed[name]
        used_here = {o for u in page_uses if u.kind == MANAGE and u.name == name for o in u.options}
        for option in options:
            line = next((ln for ln in entry.splitlines() if ln.startswith("- ") and f"`{option}`" in ln.split(":")[0]), None)
            assert line, f"{name} {option} is not listed"
            section = entry[:entry.index(line)].rsplit("Options the pages", 1)[-1]
            expected = "use:" if option in used_here or _same_option_used(name, option, used_here, entry) else "do not use yet:"
            assert section.startswith(f" {expected}"), f"{name} {option}: listed under 'Options the pages{section[:20]}'"
        if not any(u.kind == MANAGE and u.name == name for u in page_uses):
            assert "*Not used on these pages.*" in entry, name


def _same_option_used(name: str, option: str, used_here: set[str], entry: str) -> bool:
    """`-e` and `--exclude` are one option: listed together on one line."""
    line = next(ln for ln in entry.splitlines() if ln.startswith("- ") and f"`{option}`" in ln.split(":")[0])
    return any(f"`{o}`" in line.split(":")[0] for o in used_here)


def test_client_options_have_the_clients_meaning(rendered):
    listed = entries(rendered)
    assert not re.search(r"^- `-v`", listed["dbshell"], re.M), "dbshell lists a client's option as its own"
    if "psql" in listed and "`-v`" in listed["psql"]:
        line = next(ln for ln in listed["psql"].splitlines() if ln.startswith("- `-v`"))
        assert "psql variable" in line and "ON_ERROR_STOP" in line and "Verbosity" not in line


class RecordsOnEveryEngine:
    """PageSources whose records say every cell passed, on every engine."""

    def record(self, slug, engine):
        cell = CellRecord(id="a-cell", commands=[], outcome="passed")
        return RunRecord(runbook=slug, engine=engine, outcome="passed", started="2026-01-01T00:00:00+00:00",
                         duration=1.0, versions={}, cells=[cell]), None


def test_an_engine_gets_a_mark_only_where_the_line_ran():
    """A cell limited to MariaDB never gives a PostgreSQL or SQLite mark, whatever records exist."""
    mariadb_only = uses_of_line("python manage.py dbshell -- -e \"DROP DATABASE x\"", a_runbook(a_cell(["mariadb"])),
                                a_cell(["mariadb"]), PLACE)
    marks = reference._marks(RecordsOnEveryEngine(), mariadb_only)
    assert marks == "Ran on MariaDB ✅.", marks
    everywhere = uses_of_line("python manage.py migrate", a_runbook(a_cell()), a_cell(), PLACE)
    assert reference._marks(RecordsOnEveryEngine(), everywhere) == "Ran on SQLite ✅, PostgreSQL ✅, MariaDB ✅."


def test_sections_are_located_in_the_pages():
    """Every cell a how-to page names is located in a section with the toc's anchor."""
    for runbook in notebooks.all_runbooks():
        found = places(runbook.slug)
        assert found, runbook.slug
        for place in found.values():
            assert place.page in (f"how-to/{runbook.slug}.md", f"explanation/{runbook.slug}.md")
            assert place.anchor is None or re.fullmatch(r"[\w-]+", place.anchor), place


def test_the_samples_own_command_and_an_unknown_one_get_no_entry(sources, monkeypatch):
    """Shown or not, `drop_tables` (the sample project's command) and `dbflush` (no command at all)
    are not commands of the reference."""
    cell = a_cell(role="demo", destructive=True)
    shown = [u for line in ("python manage.py drop_tables --noinput", "python manage.py dbflush",
                            "python manage.py migrate --plan")
             for u in uses_of_line(line, a_runbook(cell, "new-work-model"), cell, PLACE)]
    monkeypatch.setattr(reference, "uses", lambda _: shown)
    names = entries(reference.commands_reference(sources))
    assert "migrate" in names and "drop_tables" not in names and "dbflush" not in names, list(names)
