"""What a page's Markdown source must hold, read before any macro renders it.

Pure functions, called at build time by the macros module (hooks/macros.py, on_pre_page_macros:
mkdocs-macros runs it under MkDocs and Zensical runs macros modules too, while it skips MkDocs
hooks) and by tests/test_pagecheck.py.

1. Page and runbook agree: every ``demo`` and ``procedure`` cell of the page's runbook is named by
   a macro (command, output, step, engine_outputs, edit), and the cells a page names come in
   runbook order. A cell marked ``runbook.hidden: "<reason>"`` is left off, and then must be.
   Engine siblings (consecutive cells ``<stem>-sqlite``, ``<stem>-postgresql``, ``<stem>-mariadb``,
   each limited to its engine) are one step shown as tabs: each must be named, in any order
   among themselves.
2. No hand-typed shell: a fenced block in a shell-like language, a `$ ` prompt line or raw HTML
   code of a shell language comes from a macro. A typed one needs the class ``.not-a-runbook-step``
   (``{ .bash .not-a-runbook-step }``), which the page shows to readers.
3. Between ``{{ }}`` only calls of the site's macros with literal arguments; no ``{% %}``
   statements. Comments (HTML or Jinja) do not count as showing a cell.
4. Demonstrations fail closed: a ``demo`` cell a page shows either only reads (``showmigrations``,
   ``migrate --plan``, ``makemigrations --dry-run``, ``sqlflush``, ``dumpdata`` into ``$BACKUP_DIR``,
   read-only git, ``grep``, ``ls``), or every ``manage.py`` command of it names the settings only the
   sample project has (``--settings=config.sample_only``, with ``THROWAWAY_DATABASE_URL=…`` for a
   throwaway database) and every other command that writes runs behind ``test -f
   config/sample_only.py &&``: copied into another project, the line stops before it touches
   anything, whatever that project's settings read (Django reads no ``DATABASE_URL``). A reader's
   step the run cannot drive (``runbook.interactive``: ``createsuperuser`` at a terminal) is shown
   as it is. A demo that edits files is shown inside a collapsed admonition titled "Do not run
   this…" (``??? danger "Do not run this on your data: …"``). A ``procedure`` cell is never inside
   such a block: it is what the reader runs.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from .notebooks import Cell, Runbook

CELL_MACROS = ("command", "output", "step", "engine_outputs", "edit")
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh", "shell-session", "sh-session", "shellsession"}
OPT_OUT = "not-a-runbook-step"
SHOWN_ROLES = ("demo", "procedure")
# Only the sample project has these settings: a demonstration copied elsewhere stops (rule 4).
SAMPLE_ONLY_SETTINGS = "--settings=config.sample_only"
SAMPLE_ONLY_GUARD = "test -f config/sample_only.py && "

_COMMENT = re.compile(r"<!--.*?-->|\{#.*?#\}", re.S)
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
_FENCE = re.compile(r"^(?P<prefix>[ \t>]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_DO_NOT_RUN = re.compile(r"""^(?P<indent>[ \t]*)\?\?\?\+?[ \t]+[\w-]+[ \t]+"Do not run this""")
# Commands that change neither the database nor the project's files (a whole command each).
_READS_ONLY = [re.compile(p) for p in (
    r"python manage\.py (showmigrations|sqlflush|sqlmigrate|check|diffsettings)\b[^>|;&]*",
    r"python manage\.py migrate\b[^>|;&]*--(plan|check)\b[^>|;&]*",
    r"python manage\.py makemigrations [^>|;&]*--dry-run\b[^>|;&]*",
    r"python manage\.py dumpdata\b[^>|;&]*(> \"\$BACKUP_DIR/[\w.-]+\")?",
    r"git (status|ls-files|diff|log|show)\b[^>|;&]*",
    r"(grep|ls|cat|head|tail|wc|test|diff|echo)\b[^>|;&]*",
    # Read-only by design: tests/test_doctor.py checksums the project and every table around each call.
    r"runbook doctor\b[^>|;&]*",
    # A shell one-liner that only reads: nothing in it creates, saves, deletes or writes SQL.
    r"python manage\.py shell (-v 0 )?-c \"(?![^\"]*(create|save|delete|update|bulk_|call_command|setattr"
    r"|INSERT|UPDATE|DELETE|DROP|ALTER|TRUNCATE|CREATE))[^\"]*\"( > \"\$BACKUP_DIR/[\w.-]+\")?",
)]
# Shell words for splitting a command at its separators: quoted strings stay whole.
_TOKENS = re.compile(r"""("[^"]*"|'[^']*'|&&|\|\|?|;|[^"'&|;]+|&)""")
_HTML_SHELL = re.compile(r"""class=["'][^"']*\blanguage-(%s)\b""" % "|".join(map(re.escape, SHELL_LANGUAGES)))


class PageError(Exception):
    """The page's source says something its runbook does not prove: the build stops."""


@dataclass(frozen=True)
class MacroCall:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(hash=False)
    line: int


def check_page(uri: str, markdown: str, runbook: Runbook | None, macros: tuple[str, ...],
               companion: str | None = None) -> None:
    """Raise PageError naming ``docs/<uri>`` and every problem of its source.

    ``companion`` is the source of the runbook's other page (a how-to's explanation page
    ``explanation/<slug>.md``, or the how-to of an explanation page): the two show its cells between them.
    """
    problems = problems_of(markdown, runbook, macros, companion, procedure_page=uri.startswith("how-to/"))
    if problems:
        raise PageError(f"docs/{uri}:\n  " + "\n  ".join(problems))


def problems_of(markdown: str, runbook: Runbook | None, macros: tuple[str, ...], companion: str | None = None,
                procedure_page: bool = True) -> list[str]:
    visible = _visible(markdown)
    calls, problems = macro_calls(visible, macros)
    problems += typed_shell(visible)
    if runbook is not None:
        elsewhere = macro_calls(_visible(companion), macros)[0] if companion is not None else []
        problems += cell_problems(calls, runbook, elsewhere)
        problems += fencing_problems(calls, runbook, visible)
        if not procedure_page:
            problems += [f"line {call.line}: shows procedure cell {name!r}: a procedure step belongs on the how-to "
                         "page, once" for call, name in _named_cells(calls, runbook.slug)
                         if name in runbook.cells_by_id and runbook.cells_by_id[name].role == "procedure"]
    return problems


def _visible(markdown: str) -> str:
    return _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), markdown)


def macro_calls(markdown: str, macros: tuple[str, ...]) -> tuple[list[MacroCall], list[str]]:
    """The macro calls of a source, in order, and what is not a plain macro call."""
    calls, problems = [], []
    for match in _EXPRESSION.finditer(markdown):
        line = markdown.count("\n", 0, match.start()) + 1
        expression = match.group(1).strip()
        try:
            node = ast.parse(expression, mode="eval").body
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in macros):
                raise ValueError
            args = tuple(ast.literal_eval(a) for a in node.args)
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except (SyntaxError, ValueError):
            problems.append(f"line {line}: {{{{ {expression} }}}} is not a call of a macro ({', '.join(macros)}) "
                            "with literal arguments; anything else could put unproven text on the page")
            continue
        calls.append(MacroCall(node.func.id, args, kwargs, line))
    for match in re.finditer(r"\{%", markdown):
        line = markdown.count("\n", 0, match.start()) + 1
        problems.append(f"line {line}: a Jinja statement ({{% ... %}}); pages use the macros only")
    return calls, problems


def typed_shell(markdown: str) -> list[str]:
    """Shell typed into the source: shell-like fences, `$ ` lines and raw HTML shell code."""
    problems, fence = [], None  # fence: (char, length, lines let through) while inside one
    hint = f"show it with {{{{ command(\"slug\", \"cell\") }}}} or mark it {{ .bash .{OPT_OUT} }}"
    for number, line in enumerate(markdown.splitlines(), 1):
        match = _FENCE.match(line)
        if fence is not None:
            char, length, let_through = fence
            if match and match["fence"][0] == char and len(match["fence"]) >= length and not match["info"].strip():
                fence = None
            elif _body(line).startswith("$ ") and not let_through:
                problems.append(f"line {number}: a typed prompt line `{_body(line)}`; {hint}")
            continue
        if match:
            language, classes = _fence_info(match["info"])
            typed = language in SHELL_LANGUAGES and OPT_OUT not in classes
            if typed:
                problems.append(f"line {number}: a typed ```{language} block; {hint}")
            # Prompt lines in a block already refused, or opted out, are not reported again.
            fence = (match["fence"][0], len(match["fence"]), typed or OPT_OUT in classes)
        elif _body(line).startswith("$ "):
            problems.append(f"line {number}: a typed prompt line `{_body(line)}`; {hint}")
        elif _HTML_SHELL.search(line) and OPT_OUT not in line:
            problems.append(f"line {number}: raw HTML code in a shell language; {hint}")
    return problems


def cell_problems(calls: list[MacroCall], runbook: Runbook, elsewhere: list[MacroCall] = ()) -> list[str]:
    """Every demo and procedure cell shown (here or on the companion page, ``elsewhere``), nothing
    hidden shown, and the cells this page shows in runbook order."""
    cells = [c for c in runbook.cells if not c.is_parameters]
    shown = _shown_cells(calls, runbook)
    shown_anywhere = _shown_cells(list(elsewhere), runbook) | shown
    rank = _ranks(cells)
    problems = [f"line {call.line}: runbook {runbook.slug!r} has no cell {name!r}"
                for call, name in _named_cells(calls, runbook.slug) if name not in runbook.cells_by_id]
    for cell in cells:
        if cell.hidden and cell.id in shown:
            problems.append(f"shows cell {cell.id!r} (line {shown[cell.id]}), which runbook "
                            f"{runbook.slug!r} marks hidden ({cell.hidden!r}): remove one or the other")
        elif not cell.hidden and cell.role in SHOWN_ROLES and cell.id not in shown_anywhere:
            before, after = _neighbours(cells, cell, shown)
            problems.append(f"does not show cell {cell.id!r} ({cell.role}) of runbook {runbook.slug!r}, which runs "
                            f"between {before} and {after}: show it with a macro, or mark it runbook.hidden "
                            "with the reason the page leaves it out")
    order = sorted(shown, key=shown.get)
    for previous, cell_id in zip(order, order[1:]):  # one report per place where the order goes back
        if rank[cell_id] < rank[previous]:
            before, after = _neighbours(cells, runbook.cells_by_id[cell_id], {})
            problems.append(f"shows cell {cell_id!r} (line {shown[cell_id]}) after {previous!r} (line "
                            f"{shown[previous]}), but runbook {runbook.slug!r} runs it before, between "
                            f"{before} and {after}: put the page's steps in runbook order")
    return problems


def fencing_problems(calls: list[MacroCall], runbook: Runbook, markdown: str) -> list[str]:
    """Demonstrations a reader could copy onto their own data, and procedure steps hidden as demos."""
    lines = markdown.splitlines()
    problems = []
    for call, name in _named_cells(calls, runbook.slug):
        cell = runbook.cells_by_id.get(name)
        if cell is None or cell.role not in SHOWN_ROLES:
            continue
        fenced = _inside_do_not_run(lines, call.line)
        if cell.role == "demo" and not cell.interactive and not fails_closed(cell):
            problems.append(f"line {call.line}: demo cell {name!r} would run on a reader's own project or database "
                            f"when copied: give each manage.py command {SAMPLE_ONLY_SETTINGS} "
                            f"(THROWAWAY_DATABASE_URL={{<name>_database_url}} for a throwaway database) and put "
                            f"{SAMPLE_ONLY_GUARD!r} before any other command that writes")
        elif cell.role == "demo" and cell.edits_files and not fenced:
            problems.append(f"line {call.line}: demo cell {name!r} edits the sample's files: show it inside a "
                            "collapsed ??? danger \"Do not run this…\" block")
        elif cell.role == "procedure" and fenced:
            problems.append(f"line {call.line}: procedure cell {name!r} is inside a \"Do not run this\" block, "
                            "but it is a step the reader runs")
    return problems


# -- helpers -------------------------------------------------------------------------------------

def _body(line: str) -> str:
    """A line without its indentation and blockquote markers."""
    return re.sub(r"^[ \t>]*", "", line)


def _fence_info(info: str) -> tuple[str, set[str]]:
    """(language, classes) of a fence's info string: ```bash title="x"``` or ```{ .bash .cls }```."""
    info = info.strip()
    if info.startswith("{"):
        classes = re.findall(r"\.([\w-]+)", info)
        return (classes[0] if classes else ""), set(classes)
    words = info.split()
    return (words[0].lower() if words else ""), set(re.findall(r"\.([\w-]+)", info[len(words[0]):] if words else ""))


def _named_cells(calls: list[MacroCall], slug: str) -> list[tuple[MacroCall, str]]:
    """The cell macros naming a cell of runbook ``slug``, with the cell's id, in page order."""
    named = []
    for call in calls:
        values = dict(zip(("slug", "cell_id"), call.args)) | call.kwargs
        if call.name in CELL_MACROS and values.get("slug") == slug:
            named.append((call, values.get("cell_id")))
    return named


def _shown_cells(calls: list[MacroCall], runbook: Runbook) -> dict[str, int]:
    """The runbook's cells the page names, each with the line of its first mention, in page order."""
    shown: dict[str, int] = {}
    for call, name in _named_cells(calls, runbook.slug):
        if name in runbook.cells_by_id:
            shown.setdefault(name, call.line)
    return shown


def _inside_do_not_run(lines: list[str], line: int) -> bool:
    """Whether source line ``line`` (1-based) is in the body of a collapsed "Do not run this" admonition."""
    width = _width(lines[line - 1])
    for text in reversed(lines[: line - 1]):
        if not text.strip() or _width(text) >= width:
            continue
        width = _width(text)  # an enclosing block: a list item, an admonition, a tab
        if _DO_NOT_RUN.match(text):
            return True
        if width == 0:
            return False
    return False


def _width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def fails_closed(cell: Cell) -> bool:
    """Every command of the cell only reads, or stops in any project but the sample (rule 4)."""
    for command in cell.commands:
        if command.startswith(SAMPLE_ONLY_GUARD) and "||" not in command:
            continue  # `test -f config/sample_only.py && a && b`: nothing after the guard runs elsewhere
        if not all(_reads(part) or SAMPLE_ONLY_SETTINGS in part for part in _parts(command)):
            return False
    return True


def _reads_only(cell: Cell) -> bool:
    """Every part of every command of the cell only reads: see _READS_ONLY."""
    parts = _command_parts(cell)
    return bool(parts) and not cell.edits_files and all(_reads(part) for part in parts)


def _reads(command: str) -> bool:
    return any(pattern.fullmatch(command) for pattern in _READS_ONLY)


def _command_parts(cell: Cell) -> list[str]:
    """The cell's commands split at ``&&``, ``||``, ``;`` and pipes outside quotes."""
    return [part for command in cell.commands for part in _parts(command)]


def _parts(command: str) -> list[str]:
    parts, current = [], ""
    for token in _TOKENS.findall(command):
        if token in ("&&", "||", "|", ";"):
            parts.append(current.strip())
            current = ""
        else:
            current += token
    parts.append(current.strip())
    return [part for part in parts if part]


def _sibling_stem(cell: Cell) -> str | None:
    """``migrate-fails`` for the cell ``migrate-fails-sqlite`` that runs on SQLite only."""
    if cell.engines and len(cell.engines) == 1 and cell.id.endswith(f"-{cell.engines[0]}"):
        return cell.id[: -len(cell.engines[0]) - 1]
    return None


def _ranks(cells: list[Cell]) -> dict[str, int]:
    """Each cell's place in the runbook; consecutive engine siblings share one."""
    ranks, previous_stem, place = {}, None, -1
    for cell in cells:
        stem = _sibling_stem(cell)
        if stem is None or stem != previous_stem:
            place += 1
        ranks[cell.id] = place
        previous_stem = stem
    return ranks


def _neighbours(cells: list[Cell], cell: Cell, shown: dict[str, int]) -> tuple[str, str]:
    """The nearest cells before and after ``cell`` in the runbook (among those shown, if given)."""
    at = cells.index(cell)
    eligible = (lambda c: c.id in shown) if shown else (lambda c: True)
    before = next((c for c in reversed(cells[:at]) if eligible(c)), None)
    after = next((c for c in cells[at + 1:] if eligible(c)), None)

    def name(c: Cell | None, edge: str) -> str:
        if c is None:
            return edge
        return f"{c.id!r} (page line {shown[c.id]})" if shown else repr(c.id)
    return name(before, "the start"), name(after, "the end")
