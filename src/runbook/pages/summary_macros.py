"""The macros that sum something up rather than show one cell: a runbook's validation status, its
"Run this on your project" box, the status page's table and the benchmark results."""
from __future__ import annotations

import re

from .. import operator_mode
from ..databases import ENGINES
from ..paths import REPO
from .markdown_blocks import fence, indent, table, table_text
from .record_wording import ENGINE_NAMES, date, engine_list, engine_version
from .sources import PageSources


def status(sources: PageSources, slug: str) -> str:
    """Where and when the runbook was validated, and a download; a warning if not on every engine."""
    runbook = sources.runbook(slug)
    rows, problems, passed, in_ci = [], [], [], []
    for engine in ENGINES:
        record, problem = sources.record(slug, engine)
        if sources.in_ci_only(slug, engine):
            in_ci.append(engine)
            rows.append(f"- {ENGINE_NAMES[engine]}: validated in CI, not on this machine (no record here)")
            continue
        if problem:
            problems.append(problem)
            rows.append(f"- {ENGINE_NAMES[engine]}: {problem}")
            continue
        passed.append(engine)
        rows.append(f"- {engine_version(engine, record.versions)}: passed in "
                    f"{record.duration:.1f} s on {date(record.started)}")
    versions = sources.versions(slug)
    download = sources.link(f"runbooks/{slug}.ipynb")
    body = "\n".join([
        f"Django {versions.get('django', '?')}, finflo {versions.get('finflo', '?')}.",
        "",
        *rows,
        "",
        f"[Download the runbook]({download}) ({runbook.path.name}) and run it with "
        f"`runbook run {slug}`; the page is rebuilt from `runbook validate`.",
    ])
    if problems:
        if sources.require_records:
            sources.fail("; ".join(problems) + " [RUNBOOK_REQUIRE_RECORDS=1]")
        title = (f"Validated on {engine_list(passed)} only" if passed else "Not validated")
        return f'!!! warning "{title}"\n\n{indent(body)}'
    title = f"Validated on {engine_list(passed)}" + (f" here, on {engine_list(in_ci)} in CI" if in_ci else "")
    return f'!!! success "{title}"\n\n{indent(body)}'


def operator_box(sources: PageSources, slug: str) -> str:
    """"Run this on your project": the procedure, the exact commands, what it deletes."""
    runbook = sources.runbook(slug)
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
        fence("bash", "\n".join(operator_mode.operator_commands(runbook)), 'title="in your project\'s folder"'),
    ]
    if params:
        body += ["", "Parameters (`-p name=value`):", "", *params]
    if deletes:
        body += ["", f"Deletes data at {', '.join(f'`{d}`' for d in deletes)}: the runner first takes a backup and "
                 "proves it restores, then asks you to confirm (`--yes` for automation)."]
    body += ["", "It refuses a project with uncommitted changes (`--allow-dirty` copies the files it may change "
             "first) and keeps the plan, the executed notebook, the record and the backup in one audit folder."]
    return f'!!! tip "Run this on your project"\n\n{indent(chr(10).join(body))}'


def status_table(sources: PageSources) -> str:
    """Every runbook on every engine: outcome, cells, duration, when, versions."""
    rows = []
    for runbook in sources.all_runbooks():
        for engine in ENGINES:
            record, problem = sources.record(runbook.slug, engine)
            link = f"[{runbook.slug}]({sources.link(f'how-to/{runbook.slug}.md')})"
            if record is None:
                outcome = "validated in CI, not on this machine" if sources.in_ci_only(runbook.slug, engine) else "⚠️ no record"
                rows.append([link, ENGINE_NAMES[engine], outcome, "", "", "", ""])
                continue
            outcome = "✅ passed" if record.passed else f"❌ failed: {table_text(record.error or '')}"
            if problem and record.passed:
                outcome = "⚠️ stale (its runbook, the sample project, the lock or the runner changed)"
            counts = {o: sum(c.outcome == o for c in record.cells) for o in ("passed", "expected-failure")}
            cells = f"{counts['passed']} passed, {counts['expected-failure']} failed as expected"
            versions = ", ".join(f"{k} {v}" for k, v in record.versions.items())
            rows.append([link, ENGINE_NAMES[engine], outcome, cells, f"{record.duration:.1f} s",
                         record.started, versions])
    return table(["Runbook", "Engine", "Outcome", "Cells", "Duration", "Run on", "Versions"], rows)


def benchmark_results() -> str:
    """The last `benchmarks/run.py` results; never required, so their absence is only a note."""
    results = REPO / "benchmarks" / "results" / "latest.md"
    if not results.is_file():
        return ('!!! note "No benchmark results yet"\n\n'
                "    Run `.venv/bin/python benchmarks/run.py` and rebuild the site.")
    text = re.sub(r"<!--.*?-->\n?", "", results.read_text(), flags=re.S).strip()
    return f"{text}\n\n*Generated by `benchmarks/run.py` into `benchmarks/results/latest.md`.*"
