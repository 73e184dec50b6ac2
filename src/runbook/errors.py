"""The two kinds of failure the CLI tells apart (exit 2 and exit 1)."""


class BadInput(Exception):
    """The user asked for something that cannot be done; nothing was changed. Exit code 2."""


class RunbookFailed(Exception):
    """A runbook ran and did not do what it declares. Exit code 1."""
