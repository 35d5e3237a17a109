import pytest


@pytest.fixture(autouse=True)
def _models_under_a_root(model_root):
    """Models built in temporary directories are registered under the `pytest` model root."""
    return model_root
