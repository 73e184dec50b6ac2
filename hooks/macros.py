"""Macros (mkdocs-macros) that pull every command, output and excerpt on a page from its source.

Sources: the runbook notebooks (runbooks/<slug>.ipynb, cells named by their nbformat id), the
sample project (sampleproject/) and the records of the last `runbook validate`
(.runbook/records/<slug>/<engine>.json, or $RUNBOOK_RECORDS). Nothing on a page is typed by hand.

    {{ command("slug", "cell") }}         the cell's shell commands, as a console block
    {{ output("slug", "cell") }}          the cell's recorded output (engine="sqlite" by default)
    {{ step("slug", "cell") }}            command, then output
    {{ engine_outputs("slug", "cell") }}  the output on each engine, as content tabs
    {{ edit("slug", "cell") }}            a replace_in_file cell as BEFORE/AFTER tabs
    {{ file_excerpt("path", start="regex", end="regex") }}  lines of a sample-project file
    {{ status("slug") }}                  where and when the runbook was validated, and a download
    {{ operator_box("slug") }}            "Run this on your project": the procedure and the exact commands
    {{ commands_reference() }}, {{ status_table() }}  the reference and status pages
    {{ benchmark_results() }}             the last benchmarks/run.py results (a note if there are none)

A macro naming an unknown runbook, cell, file or excerpt stops the build with a message naming
the page. Before the macros render, each page's source is checked (src/runbook/pagecheck.py, from
on_pre_page_macros, so the check runs wherever this module runs, Zensical included): every demo
and procedure cell of its runbook shown in runbook order, no typed shell.

A missing, stale or failed record is a visible warning on the page, except with
RUNBOOK_REQUIRE_RECORDS=1 (CI), where it stops the build too.
"""
from __future__ import annotations

import ast
import html
import json
import os
import posixpath
import re
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from runbook import cache, notebooks, operator_mode, pagecheck, records
from runbook.databases import ENGINES
from runbook.errors import BadInput
from runbook.paths import RECORDS, REPO, RUNBOOKS, SAMPLE_PROJECT

ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mariadb": "MariaDB"}
MACROS = ("command", "output", "step", "engine_outputs", "edit", "file_excerpt", "status", "operator_box",
          "commands_reference", "status_table", "error_index", "benchmark_results")
# Programs other than `manage.py` that runbooks run; `manage.py` commands are described by Django.
SHELL_PROGRAMS = {
    "rm": "Removes files; `-r` removes folders with their contents, `-f` ignores missing ones.",
    "git restore": "Restores the files of the work tree to their last committed state.",
    "git clean": "Deletes files git does not track; `-d` includes folders, `-f` is required, `-q` is quiet.",
    "git status": "Lists changed and untracked files; `--short` one per line, `--porcelain` for scripts.",
    "grep": "Prints the lines of a file that match a pattern; `-n` numbers them, `-A N` adds N lines after.",
    "test": "Exits 1 when its condition is false; `-z` is true for an empty string.",
}
_MACRO_LINE = re.compile(
    r"^(?P<indent>[ \t]+)\{\{(?P<call>\s*(?:%s)\s*\(.*\))\s*\}\}[ \t]*$" % "|".join(MACROS), re.M
)


class MacroError(Exception):
    """A macro cannot be rendered from its sources: the page is wrong, the build stops."""


def define_env(env) -> None:
    site = _Site(env)
    env.runbook_site = site
    for name in MACROS:
        env.macro(getattr(site, name), name)


def on_pre_page_macros(env) -> None:
    """Check the page's own source (src/runbook/pagecheck.py), then indent every line a macro
    produces as deep as the macro stands (in a list item, a tab)."""
    env.runbook_site.check_source(env.markdown)

    def indented(match: re.Match) -> str:
        width = len(match["indent"].expandtabs(4))
        return f"{match['indent']}{{{{ ({match['call'].strip()}) | indent({width}) }}}}"

    env.markdown = _MACRO_LINE.sub(indented, env.markdown)


def on_post_build(env) -> None:
    """Every page went through the source check; none escaped it (say, by not rendering macros)."""
    docs = Path(env.conf["docs_dir"])
    unchecked = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    unchecked = [uri for uri in unchecked if uri not in env.runbook_site.checked]
    if unchecked:
        raise MacroError(f"pages the macros module never saw, so unchecked: {', '.join(unchecked)}")


class _Site:
    """The macros of one build; runbooks and records are read once per build."""

    def __init__(self, env):
        self.env = env
        self.require_records = os.environ.get("RUNBOOK_REQUIRE_RECORDS") == "1"
        self._runbooks: dict[str, notebooks.Runbook] = {}
        self._records: dict[tuple[str, str], tuple[records.RunRecord | None, str | None]] = {}
        self._cache_inputs = cache.Inputs()  # sample project, lock, runner: hashed once per build
        self.checked: set[str] = set()  # pages whose source passed pagecheck

    # -- macros --------------------------------------------------------------------------------

    def command(self, slug: str, cell_id: str) -> str:
        cell = self._cell(slug, cell_id)
        if not cell.commands:
            self._fail(f"cell {cell_id!r} of runbook {slug!r} runs no shell command (no `!` line)")
        lines, continued = [], False
        for command in cell.commands_with(self._runbook(slug).shown_values(cell)):
            lines.append(command if continued else f"$ {command}")
            continued = command.endswith("\\")
        return _fence("console", "\n".join(lines))

    def output(self, slug: str, cell_id: str, engine: str = "sqlite", collapsed: bool = True) -> str:
        cell = self._cell(slug, cell_id)
        self._check_engine(engine)
        if not cell.runs_on(engine):
            self._fail(f"cell {cell_id!r} of runbook {slug!r} does not run on {engine} (it runs on "
                       f"{', '.join(cell.engines)}): use engine_outputs() or engine=")
        if self._in_ci_only(slug, engine):
            return _ci_note(engine)
        record, problem = self._record(slug, engine)
        cell_record = record.cell(cell_id) if record else None
        if problem is None and (cell_record is None or cell_record.outcome not in ("passed", "expected-failure")):
            outcome = cell_record.outcome if cell_record else "missing"
            problem = (f"cell {cell_id!r} of runbook {slug!r} did not pass in the last run on {engine} "
                       f"({outcome}{': ' + cell_record.error if cell_record and cell_record.error else ''})")
        if problem:
            return self._problem(problem)
        marker = "???" if collapsed else "???+"
        if cell_record.outcome == "expected-failure":
            last = _error_line(cell_record.output)
            title = f"Output: fails as expected (exit {cell_record.exit})"
            if last:
                title += f": `{last}`" if "`" not in last else f": {last}"
            head = f'{marker} failure "{title}"'
        else:
            head = f'{marker} success "Output"'
        body = _fence("text", cell_record.output.rstrip("\n")) if cell_record.output.strip() else "The command printed nothing."
        return "\n".join([head, "", _indent(f"*{_run_line(record)}*\n\n{body}")])

    def step(self, slug: str, cell_id: str, engine: str = "sqlite") -> str:
        return f"{self.command(slug, cell_id)}\n\n{self.output(slug, cell_id, engine=engine)}"

    def engine_outputs(self, slug: str, cell_id: str) -> str:
        cell = self._cell(slug, cell_id)
        tabs = []
        for engine in ENGINES:
            if cell.runs_on(engine):
                body = self.output(slug, cell_id, engine=engine, collapsed=False)
            else:
                body = (f'!!! note "Not run on {ENGINE_NAMES[engine]}"\n\n'
                        f"    This cell runs on {_engine_list(cell.engines)} only.")
            tabs.append(f'=== "{ENGINE_NAMES[engine]}"\n\n{_indent(body)}')
        return "\n\n".join(tabs)

    def edit(self, slug: str, cell_id: str) -> str:
        path, old, new = self._replace_in_file_args(slug, cell_id)
        if (SAMPLE_PROJECT / path).is_file():
            text = self._file_before(slug, cell_id, path)
            if text.count(old) != 1:
                self._fail(f"cell {cell_id!r} of runbook {slug!r} replaces text that occurs "
                           f"{text.count(old)} times in sampleproject/{path} (expected once)")
            before = _region(text, text.index(old), old)
            after = _region(text.replace(old, new), text.index(old), new)
        elif (SAMPLE_PROJECT / path).parent.is_dir():
            # A file an earlier cell creates (a new migration): the run itself proves `old` is in it.
            before, after = (old.strip("\n"), 1, None), (new.strip("\n"), 1, None)
        else:
            self._fail(f"cell {cell_id!r} of runbook {slug!r} edits {path}, but sampleproject/ has no "
                       f"folder {posixpath.dirname(path) or '.'}")
        tabs = []
        for label, (lines, first, changed) in (("BEFORE", before), ("AFTER", after)):
            attrs = f'title="{path}"'
            if (SAMPLE_PROJECT / path).is_file():
                attrs += f' linenums="{first}"'
            if changed:
                attrs += f' hl_lines="{changed[0]}-{changed[1]}"'
            tabs.append(f'=== "{label}"\n\n{_indent(_fence("python", lines, attrs))}')
        return "\n\n".join(tabs)

    def file_excerpt(self, path: str, start: str, end: str) -> str:
        lines = self._sample_file(path).read_text().splitlines()
        first = next((i for i, ln in enumerate(lines) if re.search(start, ln)), None)
        if first is None:
            self._fail(f"no line of sampleproject/{path} matches start={start!r}")
        last = next((i for i in range(first + 1, len(lines)) if re.search(end, lines[i])), None)
        if last is None:
            self._fail(f"no line of sampleproject/{path} after line {first + 1} matches end={end!r}")
        excerpt = "\n".join(lines[first:last + 1])
        return _fence("python", excerpt, f'title="{path}" linenums="{first + 1}"')

    def status(self, slug: str) -> str:
        runbook = self._runbook(slug)
        rows, problems, passed, in_ci = [], [], [], []
        for engine in ENGINES:
            record, problem = self._record(slug, engine)
            if self._in_ci_only(slug, engine):
                in_ci.append(engine)
                rows.append(f"- {ENGINE_NAMES[engine]}: validated in CI, not on this machine (no record here)")
                continue
            if problem:
                problems.append(problem)
                rows.append(f"- {ENGINE_NAMES[engine]}: {problem}")
                continue
            passed.append(engine)
            rows.append(f"- {_engine_version(engine, record.versions)}: passed in "
                        f"{record.duration:.1f} s on {_date(record.started)}")
        versions = self._versions(slug)
        download = posixpath.relpath(f"runbooks/{slug}.ipynb", posixpath.dirname(self._page_uri()))
        body = "\n".join([
            f"Django {versions.get('django', '?')}, finflo {versions.get('finflo', '?')}.",
            "",
            *rows,
            "",
            f"[Download the runbook]({download}) ({runbook.path.name}) and run it with "
            f"`runbook run {slug}`; the page is rebuilt from `runbook validate`.",
        ])
        if problems:
            if self.require_records:
                self._fail("; ".join(problems) + " [RUNBOOK_REQUIRE_RECORDS=1]")
            title = (f"Validated on {_engine_list(passed)} only" if passed else "Not validated")
            return f'!!! warning "{title}"\n\n{_indent(body)}'
        title = f"Validated on {_engine_list(passed)}" + (f" here, on {_engine_list(in_ci)} in CI" if in_ci else "")
        return f'!!! success "{title}"\n\n{_indent(body)}'

    def operator_box(self, slug: str) -> str:
        runbook = self._runbook(slug)
        steps = [c for c in runbook.operator_cells if not c.is_parameters and c.id != "setup"]
        procedure = ", ".join(f"`{c.id}`" for c in steps if c.role == "procedure")
        checks = ", ".join(f"`{c.id}`" for c in steps if c.role == "check")
        params = [f"- `{name}`: {meta.get('help', '')} (the sample's: `{runbook.defaults.get(name)}`"
                  f"{'; required' if meta.get('required') else ''})" for name, meta in runbook.parameter_help.items()]
        deletes = [c.id for c in steps if c.destructive]
        body = [
            f"Against your own project, `runbook` runs only this page's procedure ({procedure}) and its "
            f"read-only checks ({checks or 'none'}); the demonstrations run on the sample project only. "
            "`plan` changes nothing and shows every step, each precondition and Django's own `migrate --plan`.",
            "",
            _fence("bash", "\n".join(operator_mode.operator_commands(runbook)), 'title="in your project\'s folder"'),
        ]
        if params:
            body += ["", "Parameters (`-p name=value`):", "", *params]
        if deletes:
            body += ["", f"Deletes data at {', '.join(f'`{d}`' for d in deletes)}: the runner first takes a backup and "
                     "proves it restores, then asks you to confirm (`--yes` for automation)."]
        body += ["", "It refuses a project with uncommitted changes (`--allow-dirty` copies the files it may change "
                 "first) and keeps the plan, the executed notebook, the record and the backup in one audit folder."]
        return f'!!! tip "Run this on your project"\n\n{_indent(chr(10).join(body))}'

    def commands_reference(self) -> str:
        entries: dict[str, list[tuple[str, notebooks.Runbook, notebooks.Cell]]] = {}
        options: dict[str, set[str]] = {}
        for runbook in self._all_runbooks():
            for cell in runbook.cells:
                for command in cell.commands_with(runbook.shown_values(cell)):
                    for key, words in _programs(command):
                        entries.setdefault(key, []).append((command, runbook, cell))
                        options.setdefault(key, set()).update(w.split("=")[0] for w in words if w.startswith("-"))
        described = self._django_help(entries, options)
        sections = []
        for key in sorted(entries):
            text = described.get(key) or SHELL_PROGRAMS.get(key) or _module_doc(key)
            if text is None:
                text = "*Not described yet: add the program to `SHELL_PROGRAMS` in hooks/macros.py.*"
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
                marks = [self._cell_mark(runbook.slug, cell.id, e) for e in ENGINES]
                link = self._link(f"how-to/{runbook.slug}.md")
                rows.append([_code_cell(command), f"[{runbook.slug}]({link}) › `{cell.id}`", *marks])
            columns = ["Command as run", "Runbook › cell", *(ENGINE_NAMES[e] for e in ENGINES)]
            sections.append("\n".join([*lines, _table(columns, rows)]))
        legend = ("✅ passed · ✅ ✗ failed as the runbook expects · ❌ failed · – not run on this engine · "
                  "CI validated in CI, not on this machine · ⚠️ no current record")
        return legend + "\n\n" + "\n\n".join(sections)

    def benchmark_results(self) -> str:
        """The last `benchmarks/run.py` results; never required, so their absence is only a note."""
        table = REPO / "benchmarks" / "results" / "latest.md"
        if not table.is_file():
            return ('!!! note "No benchmark results yet"\n\n'
                    "    Run `.venv/bin/python benchmarks/run.py` and rebuild the site.")
        text = re.sub(r"<!--.*?-->\n?", "", table.read_text(), flags=re.S).strip()
        return f"{text}\n\n*Generated by `benchmarks/run.py` into `benchmarks/results/latest.md`.*"

    def status_table(self) -> str:
        rows = []
        for runbook in self._all_runbooks():
            for engine in ENGINES:
                record, problem = self._record(runbook.slug, engine)
                link = f"[{runbook.slug}]({self._link(f'how-to/{runbook.slug}.md')})"
                if record is None:
                    outcome = "validated in CI, not on this machine" if self._in_ci_only(runbook.slug, engine) else "⚠️ no record"
                    rows.append([link, ENGINE_NAMES[engine], outcome, "", "", "", ""])
                    continue
                outcome = "✅ passed" if record.passed else f"❌ failed: {_table_text(record.error or '')}"
                if problem and record.passed:
                    outcome = "⚠️ stale (its runbook, the sample project, the lock or the runner changed)"
                counts = {o: sum(c.outcome == o for c in record.cells) for o in ("passed", "expected-failure")}
                cells = f"{counts['passed']} passed, {counts['expected-failure']} failed as expected"
                versions = ", ".join(f"{k} {v}" for k, v in record.versions.items())
                rows.append([link, ENGINE_NAMES[engine], outcome, cells, f"{record.duration:.1f} s",
                             record.started, versions])
        return _table(["Runbook", "Engine", "Outcome", "Cells", "Duration", "Run on", "Versions"], rows)

    def error_index(self) -> str:
        """Every error a runbook reproduces, as the last run printed it, with the page that explains it."""
        rows: dict[str, list[str]] = {}
        problems, in_ci = [], {}
        for runbook in self._all_runbooks():
            link = f"[{runbook.title}]({self._link(f'how-to/{runbook.slug}.md')})"
            for cell in runbook.cells:
                if cell.expect.exit == 0:
                    continue
                engine = next((e for e in ENGINES if cell.runs_on(e) and not self._in_ci_only(runbook.slug, e)), None)
                if engine is None:  # reproduced on engines this machine did not validate
                    in_ci.setdefault(link, []).append(f"`{cell.id}`")
                    continue
                record, problem = self._record(runbook.slug, engine)
                cell_record = record.cell(cell.id) if record else None
                if problem or cell_record is None or cell_record.outcome != "expected-failure":
                    problems.append(problem or f"no recorded failure for cell {cell.id!r} of {runbook.slug!r}")
                    continue
                message = _SHORT_EXCEPTION.sub(r"\1", _error_line(cell_record.output))
                if message and _error_key(message) not in rows:
                    rows[_error_key(message)] = [_code_cell(_table_text(message)), link]
        parts = [self._problem("; ".join(dict.fromkeys(problems)))] if problems else []
        parts.append(_table(["You see", "Go to"], list(rows.values())))
        if in_ci:
            where = "; ".join(f"{link} ({', '.join(cells)})" for link, cells in in_ci.items())
            parts.append(f"Errors of steps for PostgreSQL or MariaDB only are validated in CI, not on this machine, "
                         f"and listed here once it validates those engines: {where}.")
        return "\n\n".join(parts)

    # -- the page's source ----------------------------------------------------------------------

    def check_source(self, markdown: str) -> None:
        """The page shows its runbook's cells in order and no typed shell (src/runbook/pagecheck.py)."""
        uri = self._page_uri()
        if self.env.page.meta.get("render_macros") is False:
            self._fail("render_macros: false would show its macros' sources instead of what they prove")
        runbook = None
        if uri.startswith("how-to/") and uri.count("/") == 1:
            runbook = self._runbook(posixpath.splitext(posixpath.basename(uri))[0])
        try:
            pagecheck.check_page(uri, markdown, runbook, MACROS)
        except pagecheck.PageError as exc:
            raise MacroError(str(exc)) from None
        self.checked.add(uri)

    # -- sources -------------------------------------------------------------------------------

    def _runbook(self, slug: str) -> notebooks.Runbook:
        if slug not in self._runbooks:
            try:
                self._runbooks[slug] = notebooks.find(slug)
            except BadInput as exc:
                self._fail(str(exc))
        return self._runbooks[slug]

    def _all_runbooks(self) -> list[notebooks.Runbook]:
        return [self._runbook(p.stem) for p in sorted(RUNBOOKS.glob("*.ipynb"))]

    def _cell(self, slug: str, cell_id: str) -> notebooks.Cell:
        runbook = self._runbook(slug)
        if cell_id not in runbook.cells_by_id:
            known = ", ".join(c.id for c in runbook.cells)
            self._fail(f"runbook {slug!r} has no cell {cell_id!r} (its cells: {known})")
        return runbook.cells_by_id[cell_id]

    def _record(self, slug: str, engine: str) -> tuple[records.RunRecord | None, str | None]:
        """The last record of ``slug`` on ``engine`` and what is wrong with it, if anything."""
        if (slug, engine) not in self._records:
            runbook = self._runbook(slug)
            record = records.load(slug, engine, RECORDS)
            problem = None
            if record is None:
                problem = f"no record of runbook {slug!r} on {engine}"
            elif not record.passed:
                problem = f"runbook {slug!r} failed on {engine}: {record.error}"
            elif not cache.is_fresh(record, runbook, self._cache_inputs):
                problem = (f"the record of runbook {slug!r} on {engine} is stale: its code cells, the sample "
                           "project, the locked dependencies or the runner changed since it was made")
            if problem:
                problem += f" (run `runbook validate {slug} --engine {engine}`)"
            self._records[slug, engine] = (record, problem)
        return self._records[slug, engine]

    def _versions(self, slug: str) -> dict[str, str]:
        for engine in ENGINES:
            record, _ = self._record(slug, engine)
            if record:
                return record.versions
        return {}

    def _cell_mark(self, slug: str, cell_id: str, engine: str) -> str:
        if self._in_ci_only(slug, engine):
            return "CI"
        record, problem = self._record(slug, engine)
        cell_record = record.cell(cell_id) if record else None
        if cell_record and cell_record.outcome == "skipped":
            return "–"
        if problem or cell_record is None:
            return "⚠️"
        return {"passed": "✅", "expected-failure": "✅ ✗"}.get(cell_record.outcome, "❌")

    def _sample_file(self, path: str) -> Path:
        file = (SAMPLE_PROJECT / path).resolve()
        if not file.is_relative_to(SAMPLE_PROJECT) or not file.is_file():
            self._fail(f"no file sampleproject/{path}")
        return file

    def _file_before(self, slug: str, cell_id: str, path: str) -> str:
        """The sample file as the runbook has left it when ``cell_id`` runs: earlier edits applied."""
        text = self._sample_file(path).read_text()
        for cell in self._runbook(slug).cells:
            if cell.id == cell_id:
                break
            if any("git restore" in c and path in c.split() for c in cell.commands):
                text = self._sample_file(path).read_text()
            elif cell.source.lstrip().startswith("replace_in_file(") and f'"{path}"' in cell.source:
                _, earlier_old, earlier_new = self._replace_in_file_args(slug, cell.id)
                text = text.replace(earlier_old, earlier_new, 1)
        return text

    def _replace_in_file_args(self, slug: str, cell_id: str) -> tuple[str, str, str]:
        cell = self._cell(slug, cell_id)
        try:
            call = ast.parse(cell.source).body[0].value
            if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "replace_in_file"):
                raise ValueError
            args = [ast.literal_eval(a) for a in call.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            names = ("path", "old", "new")
            values = dict(zip(names, args)) | kwargs
            return values["path"], values["old"], values["new"]
        except (SyntaxError, ValueError, IndexError, AttributeError, KeyError):
            self._fail(f"cell {cell_id!r} of runbook {slug!r} is not a replace_in_file(path, old=..., new=...) call with literal arguments")

    def _django_help(self, entries: dict, options: dict[str, set[str]]) -> dict:
        """Django's own help text for each `manage.py` command the runbooks run, and its options."""
        words = []
        for key in entries:
            if key.startswith("manage.py "):
                words += [key.split()[1], *sorted(options[key])]
        probe = REPO / "hooks" / "django_probe.py"
        result = subprocess.run([sys.executable, str(probe), "help", str(SAMPLE_PROJECT), *words],
                                capture_output=True, text=True)
        if result.returncode:
            self._fail(f"cannot ask Django for its commands' help: {result.stderr.strip()}")
        described = {}
        for name, entry in json.loads(result.stdout).items():
            described[f"manage.py {name}"] = entry["help"]
            described[f"manage.py {name} options"] = entry["options"]
        return described

    # -- errors and links ----------------------------------------------------------------------

    def _page_uri(self) -> str:
        page = getattr(self.env, "page", None)
        return page.file.src_uri if page is not None else "?"

    def _link(self, target: str) -> str:
        return posixpath.relpath(target, posixpath.dirname(self._page_uri()))

    def _fail(self, message: str):
        raise MacroError(f"docs/{self._page_uri()}: {message}")

    def _in_ci_only(self, slug: str, engine: str) -> bool:
        """No record of another engine than SQLite, outside CI: the README's main job validates SQLite
        only, and CI validates (and its strict build requires) every engine."""
        return not self.require_records and engine != "sqlite" and self._record(slug, engine)[0] is None

    def _problem(self, problem: str) -> str:
        if self.require_records:
            self._fail(problem + " [RUNBOOK_REQUIRE_RECORDS=1]")
        return f'!!! warning "No current output"\n\n    {problem}.'

    def _check_engine(self, engine: str) -> None:
        if engine not in ENGINES:
            self._fail(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")


# -- text helpers ------------------------------------------------------------------------------

def _error_key(message: str) -> str:
    """One row per error: Django names a cycle's migrations in no fixed order."""
    head, sep, nodes = message.partition("CircularDependencyError: ")
    return head + sep + ", ".join(sorted(nodes.split(", "))) if sep else message


def _fence(lang: str, text: str, attrs: str = "") -> str:
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{ticks}{lang}{' ' + attrs if attrs else ''}\n{text}\n{ticks}"


def _indent(text: str, width: int = 4) -> str:
    return "\n".join((" " * width + ln) if ln.strip() else "" for ln in text.splitlines())


def _region(text: str, at: int, replaced: str, context: int = 2) -> tuple[str, int, tuple[int, int] | None]:
    """The lines around ``replaced`` (found at offset ``at``), its first line number, the changed lines.

    Blank lines at either end are left out: Markdown drops them, which would shift the numbering.
    """
    lines = text.splitlines()
    first = text.count("\n", 0, at)
    stripped = replaced.strip("\n")
    if stripped:
        first_changed = first + replaced[: len(replaced) - len(replaced.lstrip("\n"))].count("\n")
        last_changed = first_changed + stripped.count("\n")
    else:
        first_changed, last_changed = first, first - 1
    start, end = max(0, first_changed - context), min(len(lines), last_changed + context + 1)
    while start < end - 1 and not lines[start].strip():
        start += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    changed = (first_changed - start + 1, last_changed - start + 1) if stripped else None
    return "\n".join(lines[start:end]), start + 1, changed


# "django.db.migrations.exceptions.CircularDependencyError: …" -> "CircularDependencyError: …"
_ERROR_LINE = re.compile(r"^(?:[\w.]+(?:Error|Exception)\b|Unknown command|FAILED:)")
_SHORT_EXCEPTION = re.compile(r"^(?:[a-z_][\w]*\.)+([A-Z]\w*(?:Error|Exception)\b)")


def _error_line(output: str) -> str:
    """The line of a failed command's output that names the error (the last such line), else its last line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if _ERROR_LINE.search(ln)]
    return (errors or lines or [""])[-1]


def _run_line(record: records.RunRecord) -> str:
    v = record.versions
    return (f"Recorded on {_engine_version(record.engine, v)} with Django "
            f"{v.get('django', '?')} and finflo {v.get('finflo', '?')}, {_date(record.started)}.")


def _engine_version(engine: str, versions: dict[str, str]) -> str:
    """"SQLite 3.40.1", "PostgreSQL 15.20 (Debian …)": the name once, then the server's version."""
    name, version = ENGINE_NAMES[engine], versions.get(engine, "")
    return version if version.lower().startswith(name.lower()) else f"{name} {version}".strip()


def _date(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _ci_note(engine: str) -> str:
    name = ENGINE_NAMES[engine]
    return (f'!!! note "Validated on {name} in CI, not on this machine"\n\n'
            f"    This build has no {name} record; CI's build requires one. To see the output here, run "
            f"`runbook validate --engine {engine}`.")


def _engine_list(engines) -> str:
    names = [ENGINE_NAMES[e] for e in engines]
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


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


def _module_doc(key: str) -> str | None:
    """The first paragraph of the docstring of a `python -m` module of this repository."""
    if not key.startswith("python -m runbook."):
        return None
    source = REPO / "src" / Path(*key.split()[-1].split(".")).with_suffix(".py")
    if not source.is_file():
        return None
    doc = ast.get_docstring(ast.parse(source.read_text())) or ""
    return doc.split("\n\n")[0].replace("\n", " ") or None


def _table(columns: list[str], rows: list[list[str]]) -> str:
    """An HTML table of Markdown cells (md_in_html) that a screen reader can navigate: column headers
    `<th scope="col">` and, in each row, the first cell as the row's header `<th scope="row">`."""
    head = "".join(f'<th scope="col">{html.escape(column)}</th>' for column in columns)
    body = []
    for first, *rest in rows:
        cells = "".join(f'<td markdown="span">{cell}</td>' for cell in rest)
        body.append(f'<tr markdown="1"><th scope="row" markdown="span">{first}</th>{cells}</tr>')
    return "\n".join(['<table markdown="1">', f"<thead><tr>{head}</tr></thead>", '<tbody markdown="1">',
                      *body, "</tbody>", "</table>"])


def _code_cell(command: str) -> str:
    """A command as inline code inside a table cell."""
    return f"`` {command} ``" if "`" in command else f"`{command}`"


def _table_text(text: str) -> str:
    """Text on one line, for a table cell."""
    return text.replace("\n", " ")
