import pytest


@pytest.fixture(autouse=True)
def _models_under_a_root(model_root):
    """Models built in temporary directories are registered under the `pytest` model root."""
    return model_root


@pytest.fixture(autouse=True)
def _own_worker_cache(settings, tmp_path):
    """Each test stages into a cache of its own: a file another test left there would hide a missing one."""
    settings.ANNOTATE_CACHE_DIR = tmp_path / "cache"
    return settings.ANNOTATE_CACHE_DIR
