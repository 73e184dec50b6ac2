"""What a reader of how-to/reset-database checks."""
from .conftest import failed_as_expected, succeeded


def test_dbflush_does_not_exist(record_of):
    lines = failed_as_expected(record_of("reset-database").cell("dbflush"))
    assert lines == ["Unknown command: 'dbflush'. Did you mean flush?", "Type 'manage.py help' for usage."]


def test_flush_loses_finflo_seeded_rows_and_breaks_the_signal(record_of):
    record = record_of("reset-database")
    assert failed_as_expected(record.cell("verify-after-flush"))[-4:] == [
        "FAILED: finflo SignList has 0 rows, expected 4 signatures",
        "FAILED: finflo States has no DRAFT state",
        "FAILED: finflo Action has no RETURN action",
        "FAILED: finflo Flowmodel has no row for work model transaction.Invoice",
    ]
    lines = failed_as_expected(record.cell("save-after-flush"))
    assert lines[-1] == "AttributeError: 'NoneType' object has no attribute 'description'"
    assert any(ln.startswith('  File "<site-packages>/finflo/signals.py"') for ln in lines), lines


def test_reset_ends_healthy(record_of):
    record = record_of("reset-database")
    assert succeeded(record.cell("verify-finflo"))[-1] == "finflo seeded rows: OK"
    assert succeeded(record.cell("createsuperuser")) == ["Superuser created successfully."]


def test_the_superuser_can_log_in_and_the_password_trap_is_shown(record_of):
    record = record_of("reset-database")
    assert succeeded(record.cell("superuser-can-log-in"))[-1] == "admin can log in: True"
    assert succeeded(record.cell("superuser-without-password")) == ["Superuser created successfully."]
    assert succeeded(record.cell("superuser-without-password-cannot-log-in"))[-1] == "nopass has a usable password: False"


def test_the_engines_own_tools_reset_the_database(record_of):
    record = record_of("reset-database")
    ran = [c for c in ("reset-sqlite", "reset-postgresql", "reset-mariadb") if record.cell(c).outcome != "skipped"]
    assert len(ran) == 1 and succeeded(record.cell(ran[0]))
    assert not any("[X]" in ln for ln in succeeded(record.cell("showmigrations-after-drop")))
