"""What a reader of how-to/backup-and-restore checks."""


def test_model_label_is_app_label_dot_model_name(record_of):
    cell = record_of("backup-and-restore").cell("dumpdata-model-wrong-label")
    assert cell.outcome == "expected-failure" and "CommandError: Unknown model: accounts.users" in cell.output


def test_the_restored_database_is_identical(record_of):
    record = record_of("backup-and-restore")
    assert "row counts: identical" in record.cell("counts-diff").output


def test_flush_and_loaddata_of_the_backup_restore_every_row(record_of):
    record = record_of("backup-and-restore")
    assert record.cell("flush-restore").outcome == "passed"
    assert "row counts: identical" in record.cell("counts-diff").output
    assert "finflo seeded rows: OK" in record.cell("verify-finflo").output


def test_a_plain_dump_restores_only_where_content_type_ids_match(record_of):
    record = record_of("backup-and-restore")
    assert record.cell("loaddata-plain-same-ids").outcome == "passed"
    failed = record.cell("loaddata-plain-fails")
    assert failed.outcome == "expected-failure" and failed.exit == 1
    assert "Could not load contenttypes.ContentType(pk=" in failed.output
