"""The commands reference (reference/commands.md): every program the runbooks run, described by
Django's own help (`manage.py` commands and their options), by this repository's docstrings
(`python -m runbook.…`) or by SHELL_PROGRAMS, with each command as run and its outcome per engine."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from .. import notebooks
from ..shellwords import programs
from ..databases import ENGINES
from ..paths import PACKAGE, REPO, SAMPLE_PROJECT
from .markdown_blocks import code_cell, table
from .record_wording import ENGINE_NAMES
from .sources import PageSources

# Programs other than `manage.py` that runbooks run; `manage.py` commands are described by Django.
SHELL_PROGRAMS = {
    "rm": "Removes files; `-r` removes folders with their contents, `-f` ignores missing ones.",
    "git restore": "Restores the files of the work tree to their last committed state.",
    "git clean": "Deletes files git does not track; `-d` includes folders, `-f` is required, `-q` is quiet.",
    "git status": "Lists changed and untracked files; `--short` one per line, `--porcelain` for scripts.",
    "grep": "Prints the lines of a file that match a pattern; `-n` numbers them, `-A N` adds N lines after.",
    "test": "Exits 1 when its condition is false; `-z` is true for an empty string.",
    "git ls-files": "Lists the files git tracks, optionally those matching a pattern.",
    "git add": "Stages files for the next commit.",
    "git commit": "Records the staged files in the repository; `-m` gives the message, `-q` is quiet.",
    "cat": "Prints a file.",
    "diff": "Compares two files line by line; exits 1 and prints the differences when they differ.",
    "echo": "Prints its arguments.",
    "ls": "Lists files.",
    "wc": "Counts lines (`-l`), words or bytes.",
    "cp": "Copies files; `-r` copies folders with their contents.",
    "mkdir": "Creates a folder; `-p` creates missing parents and accepts an existing folder.",
    "export": "Sets an environment variable for the commands that follow in the same shell.",
    "sqlite3": "SQLite's command-line shell; `.backup FILE` writes a consistent copy of the open database.",
    "pg_dump": "Dumps a PostgreSQL database into a file; `-Fc` in the custom format `pg_restore` reads.",
    "pg_restore": "Restores a `pg_dump -Fc` file; `--clean --if-exists` drops what it re-creates first.",
    "psql": "PostgreSQL's interactive terminal; `-c` runs one command, `-f` a file.",
    "mariadb-dump": "Dumps a MariaDB or MySQL database as SQL; `--single-transaction` takes a consistent "
                    "snapshot of InnoDB tables without locking them.",
    "mariadb": "MariaDB's command-line client; `-e` runs one statement; reads SQL from standard input.",
}
UNKNOWN_MANAGE_COMMAND = ("*Not a command of Django or of this project: `manage.py` stops with "
                          "`Unknown command`.*")
LEGEND = ("✅ passed · ✅ ✗ failed as the runbook expects · ❌ failed · – not run on this engine · "
          "CI validated in CI, not on this machine · ⚠️ no current record")


def commands_reference(sources: PageSources) -> str:
    entries: dict[str, list[tuple[str, notebooks.Runbook, notebooks.Cell]]] = {}
    options: dict[str, set[str]] = {}
    for runbook in sources.all_runbooks():
        for cell in runbook.cells:
            for command in cell.commands_with(runbook.shown_values(cell)):
                for key, words in programs(command):
                    entries.setdefault(key, []).append((command, runbook, cell))
                    options.setdefault(key, set()).update(w.split("=")[0] for w in words if w.startswith("-"))
    described = _django_help(sources, entries, options)
    sections = []
    for key in sorted(entries):
        text = described.get(key) or SHELL_PROGRAMS.get(key) or _module_doc(key)
        if text is None and key.startswith("manage.py "):
            text = UNKNOWN_MANAGE_COMMAND
        if text is None:
            text = ("*Not described yet: add the program to `SHELL_PROGRAMS` in "
                    "src/runbook/pages/commands_reference.py.*")
        lines = [f"## `{key}`", "", text, ""]
        option_help = described.get(f"{key} options", {})
        for option in sorted(option_help):
            lines.append(f"- `{option}`: {option_help[option] or 'undocumented.'}")
        if option_help:
            lines.append("")
        rows, seen = [], set()
        for command, runbook, cell in entries[key]:
            if (command, runbook.slug, cell.id) in seen:
                continue
            seen.add((command, runbook.slug, cell.id))
            marks = [_cell_mark(sources, runbook.slug, cell.id, e) for e in ENGINES]
            link = sources.link(f"how-to/{runbook.slug}.md")
            rows.append([code_cell(command), f"[{runbook.slug}]({link}) › `{cell.id}`", *marks])
        columns = ["Command as run", "Runbook › cell", *(ENGINE_NAMES[e] for e in ENGINES)]
        sections.append("\n".join([*lines, table(columns, rows)]))
    return LEGEND + "\n\n" + "\n\n".join(sections)


def _cell_mark(sources: PageSources, slug: str, cell_id: str, engine: str) -> str:
    """The cell's outcome on ``engine`` in its last run, as one of the LEGEND's marks."""
    if sources.in_ci_only(slug, engine):
        return "CI"
    record, problem = sources.record(slug, engine)
    cell_record = record.cell(cell_id) if record else None
    if cell_record and cell_record.outcome == "skipped":
        return "–"
    if problem or cell_record is None:
        return "⚠️"
    return {"passed": "✅", "expected-failure": "✅ ✗"}.get(cell_record.outcome, "❌")


def _django_help(sources: PageSources, entries: dict, options: dict[str, set[str]]) -> dict:
    """Django's own help text for each `manage.py` command the runbooks run, and its options.

    Asked in a subprocess (hooks/django_probe.py) so that the build process never configures Django.
    """
    words = []
    for key in entries:
        if key.startswith("manage.py "):
            words += [key.split()[1], *sorted(options[key])]
    probe = REPO / "hooks" / "django_probe.py"
    result = subprocess.run([sys.executable, str(probe), "help", str(SAMPLE_PROJECT), *words],
                            capture_output=True, text=True)
    if result.returncode:
        sources.fail(f"cannot ask Django for its commands' help: {result.stderr.strip()}")
    described = {}
    for name, entry in json.loads(result.stdout).items():
        described[f"manage.py {name}"] = entry["help"]
        described[f"manage.py {name} options"] = entry["options"]
    return described


def _module_doc(key: str) -> str | None:
    """The first paragraph of the docstring of a `python -m` module of this repository."""
    if not key.startswith("python -m runbook."):
        return None
    source = PACKAGE.parent / Path(*key.split()[-1].split(".")).with_suffix(".py")
    if not source.is_file():
        return None
    doc = ast.get_docstring(ast.parse(source.read_text())) or ""
    return doc.split("\n\n")[0].replace("\n", " ") or None
