"""Settings that only the sample project has: the pages' demonstrations run with them.

Every demonstration line on the site names this module (``python manage.py … --settings=config.sample_only``),
so a line copied into another project stops with ``ModuleNotFoundError: No module named
'config.sample_only'`` before it connects to any database, whatever that project's settings read.

``THROWAWAY_DATABASE_URL=<url>`` on the line points it at a throwaway database the line names;
without it, the line acts on the sample project's own database (setting up the reader's starting
state: demo rows, a broken migration history).
"""
import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F403 (everything else as the sample project has it)
from .settings import DATABASES as _SAMPLE_DATABASES

if "THROWAWAY_DATABASE_URL" in os.environ:
    _throwaway = dj_database_url.parse(os.environ["THROWAWAY_DATABASE_URL"])
    _sample = _SAMPLE_DATABASES["default"]
    if (_throwaway["ENGINE"], _throwaway.get("HOST"), _throwaway["NAME"]) == (
            _sample["ENGINE"], _sample.get("HOST"), _sample["NAME"]):
        raise ImproperlyConfigured("THROWAWAY_DATABASE_URL names the sample project's own database")
    DATABASES = {"default": _throwaway}
