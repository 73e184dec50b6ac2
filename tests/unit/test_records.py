"""runbook.records: the typed record, as JSON on disk."""
from __future__ import annotations

import json

import pytest

from runbook import records
from runbook.records import CellRecord, RunRecord


def a_record(**changes) -> RunRecord:
    record = RunRecord(
        runbook="probe", engine="postgresql", outcome="failed", started="2026-01-02T03:04:05+00:00", duration=1.5,
        versions={"django": "5.2", "postgresql": "PostgreSQL 15"}, error="it broke: ✗", cache_key="abc",
        cells=[CellRecord("a", ["true"], "passed", 0.5, 0, "out ✓"), CellRecord("b", [], "failed", error="boom")],
    )
    for key, value in changes.items():
        setattr(record, key, value)
    return record


def test_a_record_says_what_made_it_and_round_trips():
    record = a_record()
    text = record.to_json()
    data = json.loads(text)
    assert data["generated_by"] == "runbook validate"
    assert list(data)[0] == "generated_by"
    assert "it broke: ✗" in text and "\n  \"runbook\": \"probe\"" in text  # readable: indented, not escaped
    assert RunRecord.from_json(text) == record


def test_an_older_record_without_generated_by_or_cells_loads():
    data = json.loads(a_record().to_json())
    del data["generated_by"], data["cells"]
    assert RunRecord.from_json(json.dumps(data)) == a_record(cells=[])


def test_a_record_names_its_mode_and_one_from_before_the_field_was_of_real_processes():
    preloaded = a_record(mode="preloaded", preload={"forked": 3, "real": 1})
    assert RunRecord.from_json(preloaded.to_json()) == preloaded
    data = json.loads(a_record().to_json())
    del data["mode"]
    assert RunRecord.from_json(json.dumps(data)).mode == "processes"


def test_a_record_of_an_unknown_mode_is_refused():
    data = json.loads(a_record().to_json())
    data["mode"] = "preload"
    with pytest.raises(ValueError, match="unknown mode 'preload'"):
        RunRecord.from_json(json.dumps(data))


def test_passed_and_cell_lookup():
    assert not a_record().passed and a_record(outcome="passed").passed
    assert a_record().cell("b").error == "boom"
    assert a_record().cell("missing") is None


def test_records_are_saved_per_runbook_and_engine_and_django_and_loaded(tmp_path):
    path = records.save(a_record(), tmp_path)
    assert path == tmp_path / "probe" / "django-5.2" / "postgresql.json" == records.record_path("probe", "postgresql", tmp_path)
    assert [p.name for p in path.parent.iterdir()] == ["postgresql.json"]  # no temporary file left
    assert records.load("probe", "postgresql", tmp_path) == a_record()
    assert records.load("probe", "sqlite", tmp_path) is None
    records.save(a_record(outcome="passed"), tmp_path)  # replaced
    assert records.load("probe", "postgresql", tmp_path).passed
    older = records.save(a_record(django="4.2"), tmp_path)
    assert older == tmp_path / "probe" / "django-4.2" / "postgresql.json"
    assert records.load("probe", "postgresql", tmp_path, "4.2") == a_record(django="4.2")
    assert records.load("probe", "postgresql", tmp_path).django == "5.2"  # each version its own record


def test_the_records_folder_is_made_with_its_parents(tmp_path):
    path = records.save(a_record(), tmp_path / "not" / "yet")
    assert path == tmp_path / "not" / "yet" / "probe" / "django-5.2" / "postgresql.json" and path.is_file()
