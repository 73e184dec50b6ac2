"""What a reader of how-to/backup-and-restore checks."""
from .conftest import failed_as_expected, succeeded


def test_model_label_is_app_label_dot_model_name(record_of):
    cell = record_of("backup-and-restore").cell("dumpdata-model-wrong-label")
    assert failed_as_expected(cell) == ["CommandError: Unknown model: accounts.users"]


def test_flush_and_loaddata_of_the_backup_restore_every_row(record_of):
    record = record_of("backup-and-restore")
    assert succeeded(record.cell("flush-restore")) == []
    assert succeeded(record.cell("counts-diff")) == ["row counts: identical"]
    assert succeeded(record.cell("verify-finflo"))[-1] == "finflo seeded rows: OK"


def test_a_plain_dump_restores_only_where_content_type_ids_match(record_of):
    record = record_of("backup-and-restore")
    assert succeeded(record.cell("loaddata-plain-same-ids"))[-1].startswith("Installed ")
    lines = failed_as_expected(record.cell("loaddata-plain-fails"))
    assert "Could not load contenttypes.ContentType(pk=" in lines[-1]
