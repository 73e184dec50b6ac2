"""The commands reference (reference/commands.md): every program the runbooks run, described by
Django's own help (`manage.py` commands and their options), by this repository's docstrings
(`python -m runbook.…`) or by SHELL_PROGRAMS, with each command as run and its outcome per engine."""
from __future__ import annotations

import ast
import json
import shlex
import subprocess
import sys
from pathlib import Path

from .. import notebooks
from ..databases import ENGINES
from ..paths import REPO, SAMPLE_PROJECT
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
}
LEGEND = ("✅ passed · ✅ ✗ failed as the runbook expects · ❌ failed · – not run on this engine · "
          "CI validated in CI, not on this machine · ⚠️ no current record")


def commands_reference(sources: PageSources) -> str:
    entries: dict[str, list[tuple[str, notebooks.Runbook, notebooks.Cell]]] = {}
    options: dict[str, set[str]] = {}
    for runbook in sources.all_runbooks():
        for cell in runbook.cells:
            for command in cell.commands_with(runbook.defaults):
                for key, words in _programs(command):
                    entries.setdefault(key, []).append((command, runbook, cell))
                    options.setdefault(key, set()).update(w.split("=")[0] for w in words if w.startswith("-"))
    described = _django_help(sources, entries, options)
    sections = []
    for key in sorted(entries):
        text = described.get(key) or SHELL_PROGRAMS.get(key) or _module_doc(key)
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


def _programs(command: str) -> list[tuple[str, list[str]]]:
    """The simple commands of a shell line, each as (reference key, its words)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    simple, current = [], []
    for token in lexer:
        if token in ("&&", "||", ";", "|"):
            simple.append(current)
            current = []
        else:
            current.append(token)
    simple.append(current)
    result = []
    for words in filter(None, simple):
        if words[:2] == ["python", "manage.py"] and len(words) > 2:
            result.append((f"manage.py {words[2]}", words[3:]))
        elif words[:2] == ["python", "-m"] and len(words) > 2:
            result.append((f"python -m {words[2]}", words[3:]))
        elif words[0] == "git" and len(words) > 1:
            result.append((f"git {words[1]}", words[2:]))
        else:
            result.append((words[0], words[1:]))
    return result


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
    source = REPO / "src" / Path(*key.split()[-1].split(".")).with_suffix(".py")
    if not source.is_file():
        return None
    doc = ast.get_docstring(ast.parse(source.read_text())) or ""
    return doc.split("\n\n")[0].replace("\n", " ") or None
