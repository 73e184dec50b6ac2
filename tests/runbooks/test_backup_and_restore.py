"""What a reader of how-to/backup-and-restore checks."""
from .conftest import failed_as_expected, succeeded


def test_model_label_is_app_label_dot_model_name(record_of):
    cell = record_of("backup-and-restore").cell("dumpdata-model-wrong-label")
    assert failed_as_expected(cell) == ["CommandError: Unknown model: accounts.users"]


def test_the_restored_database_is_identical(record_of):
    record = record_of("backup-and-restore")
    assert succeeded(record.cell("counts-diff")) == ["row counts: identical"]
    assert succeeded(record.cell("content-diff")) == ["dumps: identical"]
