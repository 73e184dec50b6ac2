"""What a reader of how-to/reset-database checks."""


def test_dbflush_does_not_exist(record_of):
    cell = record_of("reset-database").cell("dbflush")
    assert cell.outcome == "expected-failure" and cell.exit == 1
    assert "Unknown command: 'dbflush'. Did you mean flush?" in cell.output


def test_flush_loses_finflo_seeded_rows_and_breaks_the_signal(record_of):
    record = record_of("reset-database")
    assert "FAILED: finflo SignList has 0 rows" in record.cell("verify-after-flush").output
    assert "AttributeError: 'NoneType' object has no attribute 'description'" in record.cell("save-after-flush").output


def test_reset_ends_healthy(record_of):
    record = record_of("reset-database")
    assert "finflo seeded rows: OK" in record.cell("verify-finflo").output
    assert "Superuser created successfully." in record.cell("createsuperuser").output


def test_the_superuser_can_log_in_and_the_password_trap_is_shown(record_of):
    record = record_of("reset-database")
    assert record.cell("superuser-can-log-in").output.endswith("\nadmin can log in: True\n")
    assert "Superuser created successfully." in record.cell("superuser-without-password").output
    assert record.cell("superuser-without-password-cannot-log-in").output.endswith(
        "\nnopass has a usable password: False\n")
