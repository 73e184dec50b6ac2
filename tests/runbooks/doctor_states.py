"""The states the runbooks reproduce, and what `runbook doctor` must report on each.

tests/runbooks/test_real_process_runs.py runs every runbook with real processes (each engine once,
each Django version at least once) and, through RunOptions.inspect_after, right after each cell
named below, while the project copy and the databases exist, calls doctor on them (`runbook doctor
--project <copy> --database-url <database> --json`, with the Python of the run's Django version). It
must report exactly the findings listed, each with the page section listed (written out here, not
read from src/runbook/doctor/pages.py, so a finding sent to another page fails), and exit 1; a state
listed with no finding must report nothing and exit 0 (the sample before any demonstration, and
after each page's procedure). Every call must leave the project's files as they were.

Findings no runbook reproduces are proven on hand-made states in tests/test_doctor.py, which also
checks every table before and after each call, the command line itself and a project without finflo.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from runbook.doctor.command import doctor
from runbook.executor import RunState

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


def inspections(slug: str, python: Path, reports: dict[str, dict]) -> dict:
    """RunOptions.inspect_after for ``slug``: after each state's cell, doctor's report (with its exit
    code) in ``reports`` under the cell's id. Whatever goes wrong is written there too, never raised:
    the run goes on (the same run proves other things)."""
    def after(state: State):
        def inspect(run_state: RunState) -> None:
            try:
                reports[state.cell] = _doctor(run_state, state, python)
            except Exception as exc:  # noqa: BLE001 - reported by the test that reads the reports
                reports[state.cell] = {"error": f"{type(exc).__name__}: {exc}"}
        return inspect
    return {state.cell: after(state) for state in STATES.get(slug, [])}


def problems(slug: str, engine: str, reports: dict[str, dict]) -> list[str]:
    """Each state of ``slug`` whose report is missing, failed or says other than the state lists."""
    found_problems = []
    for state in STATES[slug]:
        report = reports.get(state.cell)
        if report is None:
            found_problems.append(f"after {state.cell!r}: doctor never ran (the run ended before, or the cell does "
                                  f"not run on {engine})")
            continue
        if "error" in report:
            found_problems.append(f"after {state.cell!r}: {report['error']}")
            continue
        found = {f["kind"]: f["page"] for f in report["findings"]}
        if found != state.findings or report["exit"] != (1 if state.findings else 0):
            found_problems.append(
                f"after {state.cell!r} on the {state.database} database: expected {state.findings or 'no finding'} "
                f"(exit {1 if state.findings else 0}), doctor said {found or 'no finding'} (exit {report['exit']}):"
                f"\n{json.dumps(report, indent=1)}")
        wrong_plans = [f["plan"] for f in report["findings"] if not f["plan"].startswith(
            f"runbook plan {f['page'].split('/')[1].split('.md')[0]} --project ")]
        if wrong_plans:
            found_problems.append(f"after {state.cell!r}: plans that are not their page's runbook: {wrong_plans}")
        # The circular page's plans choose the procedure of the section they name, with the sample's
        # app names (the runbook's defaults): no -p.
        wrong_procedures = [f["plan"] for f in report["findings"] if f["page"] in PROCEDURE_OF
                            and not f["plan"].endswith(f" --procedure {PROCEDURE_OF[f['page']]}")]
        if wrong_procedures:
            found_problems.append(f"after {state.cell!r}: plans without their section's --procedure: "
                                  f"{wrong_procedures}")
    return found_problems


def _doctor(run_state: RunState, state: State, python: Path) -> dict:
    url = run_state.database_url if state.database == "main" else run_state.throwaway_database_urls[state.database]
    before = _files(run_state.project)
    out = io.StringIO()
    exit_code = doctor(str(run_state.project), url, state.target, as_json=True, python=str(python), out=out)
    if _files(run_state.project) != before:
        raise AssertionError(f"doctor changed the project's files after {state.cell!r}")
    return {**json.loads(out.getvalue()), "exit": exit_code}


def _files(project: Path) -> dict[str, str]:
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(project.rglob("*")) if p.is_file() and ".git" not in p.parts}
