"""The macros that sum something up rather than show one cell: a runbook's validation status, its
"Run this on your project" box and the status page's table (the benchmark results: benchmark_results.py)."""
from __future__ import annotations

from .. import operator_mode
from ..databases import ENGINES
from ..django_versions import VERSIONS
from .markdown_blocks import fence, indent, table, table_text
from .record_wording import ENGINE_NAMES, date, engine_list, engine_version, mode, mode_phrase
from .sources import PageSources


def status(sources: PageSources, slug: str) -> str:
    """Where and when the page's commands ran, once per page: the title claims only what a record of
    this build proves (an engine without a record is named as such, never as validated elsewhere)."""
    rows, problems, passed, missing = [], [], [], []
    for engine in ENGINES:
        if sources.in_ci_only(slug, engine):
            missing.append(engine)
            rows.append(f"- {ENGINE_NAMES[engine]}: no record in this build")
            continue
        runs, server, failed = [], ENGINE_NAMES[engine], False
        for django in VERSIONS:
            record, problem = sources.record(slug, engine, django)
            if problem:
                problems.append(problem)
                failed = True
                runs.append(f"Django {django}: {problem}")
            else:
                server = engine_version(engine, record.versions)
                runs.append(f"Django {django} passed on {date(record.started)} {mode_phrase(record)}")
        if not failed:
            passed.append(engine)
        rows.append(f"- {server}: {'; '.join(runs)}")
    versions = sources.versions(slug)
    djangos = " and ".join(sources.django_versions(slug)) or "?"
    body = "\n".join([
        f"Every command and output on this page ran with Django {djangos} and finflo "
        f"{versions.get('finflo', '?')} on a copy of the sample project ([every run]({sources.link('status.md')}); "
        f"[preloaded commands]({sources.link('explanation/performance.md')}#preloaded-commands) print "
        "exactly what real processes print):",
        "",
        *rows,
    ])
    if problems:
        if sources.require_records:
            sources.fail("; ".join(problems) + " [RUNBOOK_REQUIRE_RECORDS=1]")
        title = (f"Validated on {engine_list(passed)} only" if passed else "Not validated")
        return f'??? warning "{title}"\n\n{indent(body)}'
    title = f"Validated on {engine_list(passed)}" + (" only (this build)" if missing else "")
    return f'??? success "{title}"\n\n{indent(body)}'


def operator_box(sources: PageSources, slug: str) -> str:
    """The `runbook plan` line for the reader's own project, which shows every step before it runs
    anything; a runbook with alternative procedures gets one line per procedure, saying which
    situation it is for."""
    runbook = sources.runbook(slug)
    guide = sources.link("reference/runbook.md")
    if not runbook.procedures:
        plan = operator_mode.operator_commands(runbook)[0]
        return (f"To run this procedure on your own project with [`runbook`]({guide}), which shows every step "
                f"before it runs anything: `{plan}`.")
    lines = [f"To run one of these procedures on your own project with [`runbook`]({guide}), which shows every "
             "step before it runs anything:", ""]
    for name, procedure in runbook.procedures.items():
        plan = operator_mode.operator_commands(runbook.with_procedure(name))[0]
        lines.append(f"- If {procedure.when}: `{plan}`")
    return "\n".join(lines)


def runbook_commands(sources: PageSources) -> str:
    """Each how-to page's `runbook plan` and `runbook run` lines, with its parameters; for a runbook
    with alternative procedures, each procedure's, under the situation it is for."""
    parts = []
    for runbook in sources.all_runbooks():
        page = sources.link(f"how-to/{runbook.slug}.md")
        if runbook.procedures:
            commands = []
            for name, procedure in runbook.procedures.items():
                commands += [f"# if {procedure.when}:",
                             *operator_mode.operator_commands(runbook.with_procedure(name))]
        else:
            commands = operator_mode.operator_commands(runbook)
        lines = [f"### [{runbook.title}]({page})", "", fence("bash", "\n".join(commands))]
        params = [f"- `{name}`: {meta.get('help', '')} (the sample's: `{runbook.defaults.get(name)}`"
                  f"{'; required' if meta.get('required') else ''})" for name, meta in runbook.parameter_help.items()]
        if params:
            lines += ["", "Parameters (`-p name=value`):", "", *params]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def status_table(sources: PageSources) -> str:
    """The matrix: every runbook on every engine with every Django version: outcome, how its commands
    ran, cells, duration, when, versions."""
    rows = []
    for runbook in sources.all_runbooks():
        for engine in ENGINES:
            for django in VERSIONS:
                rows.append(_status_row(sources, runbook, engine, django))
    return table(["Runbook", "Engine", "Django", "Outcome", "Commands", "Cells", "Duration", "Run on", "Versions"], rows)


def _status_row(sources: PageSources, runbook, engine: str, django: str) -> list[str]:
    record, problem = sources.record(runbook.slug, engine, django)
    link = f"[{runbook.slug}]({sources.link(f'how-to/{runbook.slug}.md')})"
    if record is None:
        outcome = "validated in CI, not on this machine" if sources.in_ci_only(runbook.slug, engine) else "⚠️ no record"
        return [link, ENGINE_NAMES[engine], django, outcome, "", "", "", "", ""]
    outcome = "✅ passed" if record.passed else f"❌ failed: {table_text(record.error or '')}"
    if problem and record.passed:
        outcome = "⚠️ stale (its runbook, the sample project, the lock or the runner changed)"
    counts = {o: sum(c.outcome == o for c in record.cells) for o in ("passed", "expected-failure")}
    cells = f"{counts['passed']} passed, {counts['expected-failure']} failed as expected"
    versions = ", ".join(f"{k} {v}" for k, v in record.versions.items())
    return [link, ENGINE_NAMES[engine], django, outcome, mode(record), cells, f"{record.duration:.1f} s",
            record.started, versions]

