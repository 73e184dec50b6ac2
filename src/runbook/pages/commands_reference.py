"""The commands reference (reference/commands.md), in the manner of Django's django-admin reference:
one entry per `manage.py` command and per engine tool the pages use (command_uses.py), and the few
commands the tasks need that no page uses yet (command_notes.py, marked so).

Each entry: what it does (Django's own help, asked of Django's parsers in a subprocess, or the tools
table), whether it deletes data (a warning, before anything else of the entry), each option the pages
use with its meaning (Django's help; for a client, after `dbshell --`, the tools table), the options
the tasks need that no page uses yet, pitfalls, the page sections that use it, examples (never a
sample-only demonstration line), its documentation, and the engines on which a shown line with it
ran in this build's last validation records.
"""
from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

from ..databases import ENGINES
from ..paths import REPO, SAMPLE_PROJECT
from .command_notes import COMMANDS, TOOLS
from .command_uses import MANAGE, Use, uses
from .markdown_blocks import fence, indent
from .record_wording import ENGINE_NAMES, engine_list
from .sources import PageSources

EXAMPLES = 3  # per entry
EXAMPLE_WIDTH = 200  # longer lines (Python one-liners) are left to their pages
_ROLE_ORDER = {"procedure": 0, "check": 1, "demo": 2}


def commands_reference(sources: PageSources) -> str:
    found = uses(sources)
    by_command: dict[str, list[Use]] = {}
    by_tool: dict[str, list[Use]] = {}
    for use in found:
        (by_command if use.kind == MANAGE else by_tool).setdefault(use.name, []).append(use)
    described = _django_help(sources, by_command)
    commands = sorted(name for name in set(by_command) | {n for n, c in COMMANDS.items() if c.listed}
                      if described.get(name, {}).get("help") is not None and not _sample_command(name))
    parts = [
        "## `manage.py` commands",
        "Each command acts on the `default` database unless it is given `--database ALIAS`: with several "
        "databases, run it once per alias.",
        *(_command_entry(sources, name, described[name], by_command.get(name, [])) for name in commands),
        "## Database tools",
        "The programs `dbshell` starts (everything after `dbshell --` is theirs, not Django's) and the "
        "engines' dump tools.",
        *(_tool_entry(sources, name, by_tool[name]) for name in sorted(by_tool)),
    ]
    return "\n\n".join(parts)


def _command_entry(sources: PageSources, name: str, django: dict, used: list[Use]) -> str:
    note = COMMANDS.get(name)
    if note is None:
        sources.fail(f"`manage.py {name}` is used on {_where(used)} but src/runbook/pages/command_notes.py "
                     "does not say whether it deletes data: add it to COMMANDS")
    lines = [f"### `{name}`", "", django["help"], ""]
    lines += _deletes_box(note.deletes)
    options = django["options"]
    used_options = sorted({o for use in used for o in use.options})
    unknown = [o for o in used_options if options.get(o) is None]
    if unknown:
        sources.fail(f"Django's `{name}` has no help for {', '.join(unknown)} (used on {_where(used)})")
    # One option, two spellings (`-e`, `--exclude`): Django gives both the same help.
    spellings: dict[str, list[str]] = {}
    for option in [*used_options, *note.needed]:
        if option not in spellings.get(options[option], []):
            spellings.setdefault(options[option], []).append(option)
    used_help = list(dict.fromkeys(options[o] for o in used_options))
    lines += _option_list("Options the pages use:", [(spellings[h], _sentences(h)) for h in used_help])
    lines += _option_list("Options the pages do not use yet:", [
        (spellings[options[o]], _sentences(options[o], note.needed[o]))
        for o in note.needed if options[o] not in used_help])
    if note.pitfalls:
        lines += ["Pitfalls:", "", *(f"- {p}" for p in note.pitfalls), ""]
    docs = f"https://docs.djangoproject.com/en/{_django_series()}/ref/django-admin/#{name}"
    lines += _usage(sources, used, f"[Django's documentation of `{name}`]({docs})")
    return "\n".join(lines).rstrip()


def _tool_entry(sources: PageSources, name: str, used: list[Use]) -> str:
    tool = TOOLS[name]
    lines = [f"### `{name}`", "", tool.does, ""]
    lines += _deletes_box(tool.deletes)
    used_options = sorted({o for use in used for o in use.options})
    unknown = [o for o in used_options if o not in tool.options]
    if unknown:
        sources.fail(f"`{name}` is given {', '.join(unknown)} on {_where(used)}, which "
                     "src/runbook/pages/command_notes.py does not describe: add it to TOOLS")
    lines += _option_list("Options the pages use:", [
        ([o], f"{tool.options[o].meaning} ([{name} documentation]({tool.options[o].docs}))") for o in used_options])
    if tool.pitfalls:
        lines += ["Pitfalls:", "", *(f"- {p}" for p in tool.pitfalls), ""]
    lines += _usage(sources, used, f"[{tool.title} documentation]({tool.docs})")
    return "\n".join(lines).rstrip()


def _sentences(*texts: str) -> str:
    """Django's help and a note, each ending with a full stop (some of Django's help texts have none)."""
    return " ".join(t if t.endswith((".", ")")) else f"{t}." for t in texts if t)


def _deletes_box(deletes: str | None) -> list[str]:
    if deletes is None:
        return ["Deletes no data.", ""]
    return ['!!! danger "Deletes data"', "", indent(deletes), ""]


def _option_list(title: str, options: list[tuple[list[str], str]]) -> list[str]:
    if not options:
        return []
    return [title, "", *(f"- {', '.join(f'`{o}`' for o in names)}: {text}" for names, text in options), ""]


def _usage(sources: PageSources, used: list[Use], docs: str) -> list[str]:
    """Documentation, validation marks, the sections that use it and its examples."""
    if not used:
        return [f"*Not used on these pages.* {docs}.", ""]
    lines = [f"{docs}. {_marks(sources, used)}", ""]
    pages = {use.place.page: use.place.page_title for use in used}
    order = sorted(pages, key=lambda page: (not page.startswith("how-to/"), page))  # how-to pages first
    links = [f"[{pages[page]}]({sources.link(page)})" for page in order]
    lines += ["Used on:", "", *(f"- {link}" for link in links), ""]
    examples = _examples(used)
    if examples:
        lines += ["Examples:", ""]
        for use in examples:
            deletes = " — ⚠️ **deletes data**" if use.cell.destructive else ""
            lines += [f"- [{use.place.title}]({sources.link(use.place.target())}){deletes}:", "",
                      indent(fence("console", f"$ {use.line}")), ""]
    return lines


def _examples(used: list[Use]) -> list[Use]:
    """Up to EXAMPLES lines a reader may run (never a sample-only demonstration): procedures first,
    then checks, each one showing options the ones before did not, lines that delete data last,
    shorter lines first."""
    rank = lambda u: (u.cell.destructive, _ROLE_ORDER.get(u.cell.role, 3), len(u.line))  # noqa: E731
    pool = [u for u in sorted(used, key=rank) if not u.sample_only and len(u.line) <= EXAMPLE_WIDTH
            and not u.line.endswith("\\")]
    pool = list({u.line: u for u in reversed(pool)}.values())  # one per line, its best-ranked use
    chosen, shown = [], set()
    while pool and len(chosen) < EXAMPLES:
        best = min(pool, key=lambda u: (not set(u.options) - shown, *rank(u)))
        chosen.append(best)
        pool.remove(best)
        shown.update(best.options)
    return chosen


def _marks(sources: PageSources, used: list[Use]) -> str:
    """The engines on which a shown line with the command ran as expected in the last records."""
    ran, failed, unrecorded = set(), set(), set()
    for use in used:
        for engine in use.engines:
            record, problem = sources.record(use.runbook.slug, engine)
            cell = record.cell(use.cell.id) if record and not problem else None
            if cell is None:
                unrecorded.add(engine)
            elif cell.outcome in ("passed", "expected-failure"):
                ran.add(engine)
            elif cell.outcome != "skipped":
                failed.add(engine)
    parts = []
    ordered = lambda engines: [e for e in ENGINES if e in engines]  # noqa: E731
    if ran:
        parts.append("Ran on " + ", ".join(f"{ENGINE_NAMES[e]} ✅" for e in ordered(ran)) + ".")
    if failed:
        parts.append("Failed on " + ", ".join(f"{ENGINE_NAMES[e]} ❌" for e in ordered(failed)) + ".")
    rest = unrecorded - ran - failed
    if rest:
        parts.append(f"No current record on {engine_list(ordered(rest))}.")
    return " ".join(parts)


def _where(used: list[Use]) -> str:
    return ", ".join(sorted({f"{u.runbook.slug} › {u.cell.id}" for u in used})) or "no page"


def _sample_command(name: str) -> bool:
    """A command of the sample project itself (`drop_tables`), not of Django or of an installed package."""
    return any(SAMPLE_PROJECT.glob(f"*/management/commands/{name}.py"))


def _django_series() -> str:
    return ".".join(version("django").split(".")[:2])


def _django_help(sources: PageSources, by_command: dict[str, list[Use]]) -> dict[str, dict]:
    """Django's own help text for each command, and for the options the pages use or the notes need.

    Asked in a subprocess (hooks/django_probe.py) so that the build process never configures Django;
    a command Django does not know has help None.
    """
    words = []
    for name in sorted(set(by_command) | {n for n, c in COMMANDS.items() if c.listed}):
        options = {o for use in by_command.get(name, []) for o in use.options}
        options |= set(COMMANDS[name].needed) if name in COMMANDS else set()
        words += [name, *sorted(options)]
    probe = REPO / "hooks" / "django_probe.py"
    result = subprocess.run([sys.executable, str(probe), "help", str(SAMPLE_PROJECT), *words],
                            capture_output=True, text=True)
    if result.returncode:
        sources.fail(f"cannot ask Django for its commands' help: {result.stderr.strip()}")
    return json.loads(result.stdout)
