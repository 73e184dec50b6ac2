"""Every runbook validated once per engine per session, on every Django version, with `runbook
validate` as CI runs it (preloaded, the default)."""
from __future__ import annotations

import pytest

from runbook import records
from runbook.django_versions import VERSIONS
from runbook.records import RunRecord

from ..conftest import require_server
from ..session_records import shared_records, validated_records


@pytest.fixture(scope="session")
def records_dir(tmp_path_factory):
    return shared_records(tmp_path_factory.getbasetemp())


# Every runbook on every engine with every Django version, each its own record.
MATRIX = [(engine, django) for django in VERSIONS for engine in ("sqlite", "postgresql", "mariadb")]


@pytest.fixture(params=MATRIX, ids=[f"{engine}-django-{django}" for engine, django in MATRIX])
def record_of(request, records_dir):
    """``record_of("slug")``: the record of that runbook's run on this test's engine and Django version."""
    engine, django = request.param
    require_server(engine)
    proc = validated_records(engine, records_dir)

    def get(slug: str) -> RunRecord:
        record = records.load(slug, engine, records_dir, django)
        assert record is not None, f"no record for {slug} on {engine} with Django {django}:\n{proc.stdout}\n{proc.stderr}"
        assert record.passed, f"{slug} failed on {engine} with Django {django}: {record.error}"
        assert record.versions["django"].startswith(django + "."), record.versions
        return record

    return get


def operation(record: RunRecord, text: str) -> str:
    """A line of `makemigrations`' list of operations as that record's Django prints it: Django 4.2
    marks each with "-", 5.2 with "+" (and "-" or "~" for removals and alterations)."""
    return f"    {'-' if record.django == '4.2' else '+'} {text}"


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
