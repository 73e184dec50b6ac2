"""What the site's macros (hooks/macros.py) put on the pages, from runbooks, records and the sample
project: one module per kind of macro, the sources they read (sources.py) and the Markdown they
build with (markdown_blocks.py).

Read by the site build only, never by a run: the records' cache key covers the runner's own source,
src/runbook/*.py, and not this folder (src/runbook/cache.py), so a change to how a page words or
lays out a record leaves every record valid. tests/unit/test_cache_key.py keeps the runner from
importing this folder.
"""
