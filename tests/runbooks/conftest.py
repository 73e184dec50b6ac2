"""Every runbook validated once per engine per session, with `runbook validate` as CI runs it (preloaded, the default)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from runbook import records
from runbook.records import RunRecord

from ..conftest import REPO, require_server

_validated: dict[str, object] = {}


@pytest.fixture(scope="session")
def records_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("records")


def validated_records(engine: str, folder) -> None:
    """Run every runbook on ``engine`` once; the records land in ``folder``."""
    if engine not in _validated:
        proc = subprocess.run(
            [sys.executable, "-m", "runbook.cli", "validate", "--engine", engine, "--records", str(folder)],
            cwd=REPO, capture_output=True, text=True, timeout=1800,
        )
        _validated[engine] = proc
    return _validated[engine]


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def record_of(request, records_dir):
    """``record_of("slug")``: the record of that runbook's run on this test's engine."""
    engine = request.param
    require_server(engine)
    proc = validated_records(engine, records_dir)

    def get(slug: str) -> RunRecord:
        record = records.load(slug, engine, records_dir)
        assert record is not None, f"no record for {slug} on {engine}:\n{proc.stdout}\n{proc.stderr}"
        assert record.passed, f"{slug} failed on {engine}: {record.error}"
        return record

    return get


def failed_as_expected(cell, exit: int = 1) -> list[str]:
    """The output lines of a cell that must fail, after checking that it did, with exit code ``exit``."""
    assert cell is not None, "no such cell in the record"
    assert (cell.outcome, cell.exit) == ("expected-failure", exit), (
        f"cell {cell.id!r} should fail as expected with exit {exit}: it is {cell.outcome!r}, exit {cell.exit}")
    return cell.output.strip().splitlines()


def succeeded(cell) -> list[str]:
    """The output lines of a cell that must succeed, after checking that it did."""
    assert cell is not None, "no such cell in the record"
    assert (cell.outcome, cell.exit) == ("passed", 0), f"cell {cell.id!r} should pass: it is {cell.outcome!r}, exit {cell.exit}"
    return cell.output.strip().splitlines()
