"""`eager_celery`: queued tasks run in-process (in the request's on_commit callbacks) instead of on a worker."""

import pytest

from annotate.celery import app


@pytest.fixture
def eager_celery():
    """Tasks are queued by name, so their modules are imported first, as a worker does at start: a name that is
    not registered here would go to the broker instead of running."""
    app.loader.import_default_modules()
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous
