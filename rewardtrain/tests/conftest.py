import pytest

from annotate.celery import app


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Snapshot files go to a fresh folder per test."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def eager_celery():
    """Celery tasks run in-process when queued (the build runs in the request's on_commit callbacks)."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous
