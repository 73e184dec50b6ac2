# finflo's own migration, re-exported unchanged: MIGRATION_MODULES points finflo here so that
# the migrations Django generates for finflo stay in the project (see config/settings.py).
from importlib import import_module

Migration = import_module("finflo.migrations.0002_remigrate").Migration
