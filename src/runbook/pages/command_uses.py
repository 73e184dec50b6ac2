"""The commands the pages show, read out of the runbooks' cells: each `manage.py` command and each
engine tool, with the options a line gives it, the cell, the engines it runs on and the page section
that shows it.

- Only cells a page shows count (page_places.py); hidden cells do not.
- Everything after `dbshell --` belongs to the database client `dbshell` starts on the cell's engine
  (psql, mysql, sqlite3: Django's backends' ``executable_name``), and so does a file redirected into
  `dbshell` (``< dump.sql``).
- A tool a `manage.py shell -c` line starts with ``subprocess.run(['pg_dump', …])`` is used too.
- Shell builtins and plumbing (``cat``, ``test``, ``rm``, ``git`` …) are not commands of the reference.
- The sample-only mechanism (runbooks/README.md) is not an option a reader uses: the
  ``--settings=config.sample_only`` word is dropped, and a line carrying it (or ``test -f
  config/sample_only.py``) is ``sample_only``: never an example.
"""
from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from functools import cache

from .. import notebooks
from ..databases import ENGINES
from ..pagecheck import SAMPLE_ONLY_GUARD, SAMPLE_ONLY_SETTINGS
from ..shellwords import programs
from .command_notes import TOOLS, tool_key
from .page_places import Place, places
from .sources import PageSources

MANAGE = "manage.py"
# Django's backend of each engine, whose DatabaseClient names the program `dbshell` runs.
_BACKENDS = {"sqlite": "sqlite3", "postgresql": "postgresql", "mariadb": "mysql"}


@dataclass(frozen=True)
class Use:
    """One command of one shown line: ``kind`` is MANAGE or "tool"; ``name`` the command or tool."""

    kind: str
    name: str
    options: tuple[str, ...]
    line: str
    runbook: notebooks.Runbook
    cell: notebooks.Cell
    engines: tuple[str, ...]
    place: Place

    @property
    def sample_only(self) -> bool:
        return is_sample_only(self.line)


def is_sample_only(line: str) -> bool:
    """A demonstration line that stops in any project but the sample (runbooks/README.md)."""
    return SAMPLE_ONLY_SETTINGS in line or SAMPLE_ONLY_GUARD.strip() in line


def uses(sources: PageSources) -> list[Use]:
    found = []
    for runbook in sources.all_runbooks():
        shown = places(runbook.slug)
        for cell in runbook.cells:
            if cell.hidden or cell.id not in shown:
                continue
            for line in cell.commands_with(runbook.shown_values(cell)):
                found += uses_of_line(line, runbook, cell, shown[cell.id])
    return found


def uses_of_line(line: str, runbook: notebooks.Runbook, cell: notebooks.Cell, place: Place) -> list[Use]:
    engines = tuple(cell.engines) if cell.engines else ENGINES
    found = []

    def add(kind: str, name: str, options: list[str], on: tuple[str, ...]) -> None:
        if on:
            found.append(Use(kind, name, tuple(dict.fromkeys(options)), line, runbook, cell, on, place))

    for key, words in programs(line):
        if key.startswith(f"{MANAGE} "):
            name = key.split()[1]
            ours, _, client = _split_at(words, "--")
            add(MANAGE, name, _option_keys(w for w in ours if w != SAMPLE_ONLY_SETTINGS), engines)
            if name == "dbshell":
                stdin = ["<"] if "<" in ours else []
                for engine in engines:
                    add("tool", client_of(engine), [*stdin, *_client_option_keys(client)], (engine,))
            if name == "shell":
                for tool, options in _subprocess_tools(_value_of(words, "-c", "--command")):
                    add("tool", tool, options, tuple(e for e in engines if e in TOOLS[tool].engines))
        elif tool_key(key):
            tool = tool_key(key)
            add("tool", tool, _client_option_keys(words), tuple(e for e in engines if e in TOOLS[tool].engines))
    return found


@cache
def client_of(engine: str) -> str:
    """The program `dbshell` runs on ``engine``, as Django's backend names it."""
    client = importlib.import_module(f"django.db.backends.{_BACKENDS[engine]}.client").DatabaseClient
    return tool_key(client.executable_name) or client.executable_name


def _split_at(words: list[str], separator: str) -> tuple[list[str], str, list[str]]:
    if separator in words:
        i = words.index(separator)
        return words[:i], separator, words[i + 1:]
    return words, "", []


def _option_keys(words) -> list[str]:
    return [w.split("=")[0] for w in words if w.startswith("-") and w != "-"]


def _client_option_keys(words: list[str]) -> list[str]:
    """A client's options, and sqlite3's dot-commands (``".backup 'file'"`` -> ``.backup``)."""
    keys = []
    for i, word in enumerate(words):
        if word.startswith("-") and word != "-":
            keys.append(word.split("=")[0])
        elif word.startswith(".") and (i == 0 or not words[i - 1].startswith("-")):
            keys.append(word.split()[0])
        elif word == "<":
            keys.append("<")
    return keys


def _value_of(words: list[str], *names: str) -> str | None:
    for i, word in enumerate(words):
        if word in names and i + 1 < len(words):
            return words[i + 1]
        for name in names:
            if word.startswith(f"{name}="):
                return word[len(name) + 1:]
    return None


def _subprocess_tools(code: str | None) -> list[tuple[str, list[str]]]:
    """Engine tools a Python one-liner starts: a list, tuple or call whose first item names one
    (``subprocess.run(['pg_dump', …])``, ``run('pg_dump', …)``), with the options among its string
    items (``'--file=' + path`` and ``f'--file={d}'`` count as ``--file``). Options handed to Django's
    ``settings_to_cmd_args_env`` go to the program too, when the line starts only one."""
    if not code:
        return []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found, parameters = [], []
    for node in ast.walk(tree):
        items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else node.args if isinstance(node, ast.Call) else []
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "settings_to_cmd_args_env":
            if len(node.args) > 1 and isinstance(node.args[1], (ast.List, ast.Tuple)):
                parameters += _options_among(node.args[1].elts)
        if items and _text(items[0]) and tool_key(_text(items[0])):
            found.append((tool_key(_text(items[0])), _options_among(items[1:])))
    if parameters and len({tool for tool, _ in found}) == 1:
        found = [(tool, [*options, *parameters]) for tool, options in found]
    return found


def _options_among(items: list[ast.expr]) -> list[str]:
    return [text.split("=")[0] for text in map(_text, items) if text and text.startswith("-")]


def _text(node: ast.expr) -> str | None:
    """The literal text a string expression starts with (enough to name a program or an option)."""
    while isinstance(node, ast.BinOp):
        node = node.left
    if isinstance(node, ast.JoinedStr) and node.values:
        node = node.values[0]
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
