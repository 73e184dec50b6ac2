"""Where a test session keeps the records of its full validations, so that they run once.

tests/runbooks/ validate every runbook on every engine into ``SHARED_RECORDS`` under the session's
base folder; tests/test_site.py starts from that folder's SQLite records, which `runbook validate`
reuses while their cache key is current.
"""
SHARED_RECORDS = "records-every-engine"
