"""`runbook doctor`: what is wrong with a project's migrations and finflo rows, and which page fixes it.

- ``checks.py`` runs inside the project, with the project's Python and settings, and only reads;
- ``pages.py`` is the one table from a finding to the page, section and `runbook plan` that fix it;
- ``command.py`` checks the input, runs the checks and prints the report (text or JSON).
"""
