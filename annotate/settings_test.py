"""Test settings: the real PostgreSQL and Redis of the machine unless the environment names others."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")

from annotate.settings import *  # noqa: F403

# Password hashing dominates test time otherwise; production keeps Django's default hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A test database of its own for every test run, so runs side by side (two checkouts, CI and a developer)
# never drop each other's database.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("ANNOTATE_TEST_DB", f"test_annotate_{os.getpid()}")}  # noqa: F405

# Celery keys in Redis carry the test run's id, so a worker started by one run never takes another run's tasks.
# Worker subprocesses inherit ANNOTATE_TEST_RUN from the environment and so share their parent's prefix.
os.environ.setdefault("ANNOTATE_TEST_RUN", str(os.getpid()))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "global_keyprefix": f"annotate_test_{os.environ['ANNOTATE_TEST_RUN']}_",
}
