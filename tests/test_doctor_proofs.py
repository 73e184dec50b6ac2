"""`runbook doctor` proven against the states the runbooks reproduce, on SQLite, PostgreSQL and MariaDB.

Each runbook runs once per engine, as `runbook validate` runs it (a fresh copy of the sample project,
fresh databases), with RunOptions.inspect_after: right after each cell named below, while the
project copy and the databases exist, `runbook doctor --project <copy> --database-url <database>
--json` must report exactly the findings listed, each with the page section listed (written out
here, not read from src/runbook/doctor/pages.py, so a finding sent to another page fails), and exit
1; a state listed with no finding must report nothing and exit 0 (the sample before any
demonstration, and after each page's procedure). Every call must leave the project's files as they
were. The run stops after the last state it needs (stop_after).

Findings no runbook reproduces are proven on hand-made states in tests/test_doctor.py, which also
checks every table before and after each call and a project without finflo.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runbook import databases, notebooks
from runbook.executor import RunOptions, RunState, run

from .conftest import require_server

RUNBOOK = str(Path(sys.executable).parent / "runbook")

CIRCULAR_COMMITTED = "how-to/circular-dependency.md#if-the-deleted-migrations-were-committed"
CIRCULAR_NEVER_COMMITTED = "how-to/circular-dependency.md#if-they-were-never-committed"
CIRCULAR_UPSTREAM = "how-to/circular-dependency.md#when-finflo-ships-a-new-migration"
BACKUP_THEN_MIGRATE = "how-to/backup-and-restore.md#the-procedure"
REGISTER_THE_MODEL = "how-to/new-work-model.md#register-the-model"
RESET = "how-to/reset-database.md#reset-the-database"
IRREVERSIBLE = "explanation/rollback-migrations.md#the-plan-says-irreversible"
# The circular runbook's alternative procedure each section's plan runs (`runbook plan --procedure`).
PROCEDURE_OF = {CIRCULAR_COMMITTED: "committed", CIRCULAR_NEVER_COMMITTED: "never-committed",
                CIRCULAR_UPSTREAM: "never-committed"}


@dataclass(frozen=True)
class State:
    """After cell ``cell``, doctor on ``database`` ("main" or a throwaway database's name) finds ``findings``."""

    cell: str
    findings: dict[str, str] = field(default_factory=dict)  # kind -> the page section it names
    database: str = "main"
    target: str | None = None  # doctor's --target APP:MIGRATION


STATES: dict[str, list[State]] = {
    "circular-dependency": [
        State("database-applied-old"),  # the sample, migrated: before any demonstration
        # The symptom: accounts' regenerated first migration and finflo's depend on each other.
        State("symptom", {"cycle": CIRCULAR_COMMITTED}),
        # Never committed: MIGRATION_MODULES and finflo_migrations gone, so finflo's migrations are the
        # package's, which lack the 0003 the regenerated accounts migrations depend on.
        State("symptom-never-committed", {"missing-dependency": CIRCULAR_COMMITTED,
                                          "finflo-migration-modules": CIRCULAR_NEVER_COMMITTED}),
        # Regenerated migrations on the old database: new ones to apply, the old one's row without a file.
        State("plan-on-old-database", {"unapplied": BACKUP_THEN_MIGRATE, "stale-rows": CIRCULAR_NEVER_COMMITTED}),
        State("migrate", {"stale-rows": CIRCULAR_NEVER_COMMITTED}),  # applied; `migrate --prune` comes next
        State("files-to-commit"),  # the procedure done
        State("upstream-migration", {"conflicting-leaves": CIRCULAR_UPSTREAM, "unapplied": BACKUP_THEN_MIGRATE}),
        State("comment-userprocessauth", {"model-changes": REGISTER_THE_MODEL}),
    ],
    "rollback-migrations": [
        State("add-due-on", {"model-changes": REGISTER_THE_MODEL}),  # a field, before its makemigrations
        State("migrate-check-fails", {"unapplied": BACKUP_THEN_MIGRATE}),  # rolled back, the file still there
        State("makemigrations-check"),  # the procedure done: migration file and field removed
        State("plan-finflo-0001", {"irreversible": IRREVERSIBLE}, target="finflo:0001_initial"),
    ],
    "new-work-model": [
        # Payment named in WORK_MODEL, before the data migration: no Flowmodel row, a payment without workflow.
        State("add-work-model", {"work-model-without-flowmodel": REGISTER_THE_MODEL,
                                 "rows-without-workflows": REGISTER_THE_MODEL}),
        State("every-row-has-a-workflow"),  # the procedure done
    ],
    "reset-database": [
        State("check-finflo"),  # the procedure done: reset and migrated
        # The old guide's `flush` on a throwaway database: finflo's seeded rows and the work model's row gone.
        State("flush", {"finflo-seeded-rows": RESET, "work-model-without-flowmodel": REGISTER_THE_MODEL},
              database="guide"),
    ],
}


@pytest.mark.parametrize("engine", databases.ENGINES)
@pytest.mark.parametrize("slug", STATES)
def test_doctor_reports_each_state_the_runbook_reproduces(slug, engine):
    require_server(engine, skip_outside_ci=False)  # a proof never passes by being skipped
    runbook = notebooks.find(slug)
    states = STATES[slug]
    reports: dict[str, dict] = {}

    def doctor(state: State):
        def inspect(run_state: RunState) -> None:
            reports[state.cell] = _doctor(run_state, state)
        return inspect

    last = max(states, key=lambda s: runbook.cell(s.cell).index).cell
    # Preloaded, as `runbook validate` makes the published records (tests/runbooks/test_preload_fidelity.py
    # proves the commands print and do the same either way): the proofs cost a third of the time.
    record = run(runbook, RunOptions(engine=engine, inspect_after={s.cell: doctor(s) for s in states},
                                     stop_after=last, preload=True))
    # A run that failed still reports the states it reached: the finding a cell's own check caught too.
    problems = [] if record.outcome == "stopped" else [f"the run did not reach {last!r}: {record.error}"]
    for state in states:
        report = reports.get(state.cell)
        if report is None:
            problems.append(f"after {state.cell!r}: doctor never ran (the run ended before, or the cell does not "
                            f"run on {engine})")
            continue
        found = {f["kind"]: f["page"] for f in report["findings"]}
        if found != state.findings or report["exit"] != (1 if state.findings else 0):
            problems.append(f"after {state.cell!r} on the {state.database} database: expected "
                            f"{state.findings or 'no finding'} (exit {1 if state.findings else 0}), doctor said "
                            f"{found or 'no finding'} (exit {report['exit']}):\n{json.dumps(report, indent=1)}")
        wrong_plans = [f["plan"] for f in report["findings"] if not f["plan"].startswith(
            f"runbook plan {f['page'].split('/')[1].split('.md')[0]} --project ")]
        if wrong_plans:
            problems.append(f"after {state.cell!r}: plans that are not their page's runbook: {wrong_plans}")
        # The circular page's plans choose the procedure of the section they name, with the sample's
        # app names (the runbook's defaults): no -p.
        wrong_procedures = [f["plan"] for f in report["findings"] if f["page"] in PROCEDURE_OF
                            and not f["plan"].endswith(f" --procedure {PROCEDURE_OF[f['page']]}")]
        if wrong_procedures:
            problems.append(f"after {state.cell!r}: plans without their section's --procedure: {wrong_procedures}")
    assert not problems, f"{slug} on {engine}:\n" + "\n".join(problems)


def _doctor(run_state: RunState, state: State) -> dict:
    url = run_state.database_url if state.database == "main" else run_state.throwaway_database_urls[state.database]
    before = _files(run_state.project)
    proc = subprocess.run([RUNBOOK, "doctor", "--project", str(run_state.project), "--database-url", url, "--json",
                           *(["--target", state.target] if state.target else [])],
                          capture_output=True, text=True, timeout=600)
    assert _files(run_state.project) == before, f"doctor changed the project's files after {state.cell!r}"
    assert proc.returncode in (0, 1), f"doctor after {state.cell!r}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return {**json.loads(proc.stdout), "exit": proc.returncode}


def _files(project: Path) -> dict[str, str]:
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(project.rglob("*")) if p.is_file() and ".git" not in p.parts}


