"""Every runbook run with real processes (each engine once, each Django version at least once), and
what those runs prove:

- preloading changes nothing a reader sees: every command cell prints the same output (after the
  records' normalisation), ends with the same exit code and outcome whether `python manage.py …`
  runs in a fork of the preload server or as a real process. The preloaded side is the session's
  `runbook validate` (preloaded by default, as CI publishes it; shared with the other runbook tests).
  Side effects show in the outputs: the runbooks' checks print row counts and per-table digests of
  the values, `git status` and the files they read. The preloaded run must actually have forked
  (otherwise the comparison proves nothing); the commands the server sends to real processes
  (standard input from a file: `dbshell < dump.sql` on MariaDB) are part of the comparison too;
- `runbook doctor` reports each state the runbooks reproduce (tests/runbooks/doctor_states.py): it
  runs right after the cells that make a state, on the run's project copy and databases.

One run serves both: the doctor's states need a run of the runbooks, and the comparison one with
real processes, each a whole validation of its own otherwise.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from runbook import databases, django_versions, notebooks, records
from runbook.django_versions import VERSIONS
from runbook.executor import RunOptions, run
from runbook.records import RunRecord

from ..conftest import require_server
from . import doctor_states
from .conftest import validated_records


# What changes from one real run to the next: digests of tables holding timestamps or salted
# password hashes, the microseconds of a timestamp, the minute in a migration's automatic name,
# and the order of sets of table names (Python's hash seed differs per process; forks share the
# server's). Each run still compares its own values (the runbooks' "values: identical" checks),
# and every cell's outcome and exit code are compared as they are.
_VARIES_BETWEEN_RUNS = [(re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"), (re.compile(r"microsecond \d+"), "microsecond <n>"),
                        (re.compile(r"_auto_\d{8}_\d{4}"), "_auto_<yyyymmdd_hhmm>")]


def normalised(output: str) -> str:
    for pattern, replacement in _VARIES_BETWEEN_RUNS:
        output = pattern.sub(replacement, output)
    return output


def same_output(real: str, preloaded: str) -> bool:
    real, preloaded = normalised(real), normalised(preloaded)
    return real == preloaded or sorted(re.findall(r"[^\s,()]+", real)) == sorted(re.findall(r"[^\s,()]+", preloaded))


# A broken migration graph: which error Django meets first (a missing parent, or which cycle) follows
# the order of a set of migration names (django/db/migrations/loader.py:111, `migration_names = {…}`),
# so it changes with Python's hash seed from one real process to the next. Such a cell must still
# fail as the runbook declares (its expectation), with the same exit code, whichever error comes first.
_GRAPH_ERROR = re.compile(r"django\.db\.migrations\.exceptions\.(NodeNotFoundError|CircularDependencyError): ")


def same_judgement(cell, real, preloaded, values: dict) -> bool:
    if real.outcome != "expected-failure" or preloaded.outcome != "expected-failure" or real.exit != preloaded.exit:
        return False
    # The expectation as the run judged it: its {parameters} filled with the runbook's values, escaped.
    escaped = {name: re.escape(str(value)) for name, value in values.items()}
    pattern = re.compile(notebooks.fill(cell.expect.output, escaped)) if cell.expect.output else None
    return bool(pattern and all(_GRAPH_ERROR.search(o.output) and pattern.search(o.output) for o in (real, preloaded)))


@dataclass
class RealRun:
    record: RunRecord
    doctor: dict[str, dict]  # cell id -> doctor's report after it


_real: dict[tuple[str, str, str], RealRun] = {}


def real_run(slug: str, engine: str, django: str) -> RealRun:
    """``slug`` on ``engine`` with Django ``django``, every command a real process (as `runbook
    validate --no-preload` runs it), doctor called after each state's cell: once per session."""
    if (slug, engine, django) not in _real:
        reports: dict[str, dict] = {}
        python = django_versions.environment(django).python
        record = run(notebooks.find(slug), RunOptions(
            engine=engine, django=django, preload=False,
            inspect_after=doctor_states.inspections(slug, python, reports)))
        _real[slug, engine, django] = RealRun(record, reports)
    return _real[slug, engine, django]


# Each engine once and each Django version at least once, the oldest on SQLite: what differs between
# engines is the database drivers the forks share, and between versions the modules the server
# preloads (on Django 4.2 it imported one that copies the environment, and stopped forking:
# LEFT_TO_FORKS). Every pair of the matrix would double the suite's longest part; a pair left
# out (today SQLite with 5.2) differs from two compared pairs in one dimension each, and every
# record of the matrix is still checked for forking every command it can (the last test below).
PAIRS = [(engine, VERSIONS[min(i, len(VERSIONS) - 1)]) for i, engine in enumerate(databases.ENGINES)] + [
    ("sqlite", django) for django in VERSIONS[len(databases.ENGINES):]]
EACH_PAIR = pytest.mark.parametrize(("engine", "django"), PAIRS, ids=[f"{e}-django-{d}" for e, d in PAIRS])


@EACH_PAIR
@pytest.mark.parametrize("slug", [r.slug for r in notebooks.all_runbooks()])
def test_preloaded_commands_print_and_exit_as_real_processes(slug, engine, django, records_dir):
    require_server(engine)
    preloaded_proc = validated_records(engine, records_dir)
    real = real_run(slug, engine, django).record
    preloaded = records.load(slug, engine, records_dir, django)
    assert real.passed, f"real processes: {real.error}"
    assert preloaded is not None, f"no preloaded record:\n{preloaded_proc.stdout[-3000:]}\n{preloaded_proc.stderr[-3000:]}"
    assert (real.mode, real.preload) == ("processes", None)
    assert preloaded.mode == "preloaded", "the default validation (the published records) did not preload"
    assert preloaded.preload and preloaded.preload["forked"] > 0, f"nothing was forked: {preloaded.preload}"
    runbook = notebooks.find(slug)
    cells = runbook.cells_by_id
    differences = [
        f"{mine.id}: {field}\n  real:      {getattr(mine, field)!r}\n  preloaded: {getattr(theirs, field)!r}"
        for mine, theirs in zip(real.cells, preloaded.cells)
        for field in ("id", "outcome", "exit", "output")
        if not (same_output(mine.output, theirs.output) or same_judgement(cells[mine.id], mine, theirs, runbook.defaults)
                if field == "output" else getattr(mine, field) == getattr(theirs, field))
    ]
    assert len(real.cells) == len(preloaded.cells)
    assert not differences, "\n".join(differences)
    assert preloaded.passed, preloaded.error


@EACH_PAIR
@pytest.mark.parametrize("slug", list(doctor_states.STATES))
def test_doctor_reports_each_state_the_runbook_reproduces(slug, engine, django):
    require_server(engine, skip_outside_ci=False)  # a proof never passes by being skipped
    ran = real_run(slug, engine, django)
    problems = doctor_states.problems(slug, engine, ran.doctor)
    if not ran.record.passed:  # the states it reached are still judged: a cell's own check may have caught it
        problems.insert(0, f"the run failed: {ran.record.error}")
    assert not problems, f"{slug} on {engine} with Django {django}:\n" + "\n".join(problems)


REASONS_A_FORK_WOULD_NOT_BE_FAITHFUL = {"standard input is not /dev/null", "a terminal", "another python",
                                        "the environment differs in a variable read at start-up"}


@pytest.mark.parametrize("slug", [r.slug for r in notebooks.all_runbooks()])
def test_the_preloaded_runs_fork_every_command_they_can(slug, record_of):
    """On every engine and Django version, a command went to a real process only for a reason that
    concerns the command (a server that stopped forking, as it did on Django 4.2 after importing a
    module that copies the environment, sends every later command to a real process: 1 fork, 32 real)."""
    record = record_of(slug)
    assert record.preload and record.preload["forked"] > 0, record.preload
    assert set(record.preload.get("reasons", {})) <= REASONS_A_FORK_WOULD_NOT_BE_FAITHFUL, record.preload
