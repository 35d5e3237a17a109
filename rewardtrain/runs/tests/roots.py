"""A model root for tests: pytest's temporary directory, so a model built in a tmp dir can be registered."""

from pathlib import Path

import pytest
from django.conf import settings

TEST_ROOT = "pytest"


@pytest.fixture
def model_root(settings, tmp_path_factory) -> Path:
    """Configure the operator's root `pytest` as the session's temporary directory (every `tmp_path` is in it)."""
    base = tmp_path_factory.getbasetemp()
    settings.ANNOTATE_MODEL_ROOTS = {**settings.ANNOTATE_MODEL_ROOTS, TEST_ROOT: str(base)}
    return base


def rooted(directory: Path | str) -> dict[str, str]:
    """`root` and `path` (relative to it) of a directory under the `pytest` root, as an admin registers it."""
    base = Path(settings.ANNOTATE_MODEL_ROOTS[TEST_ROOT])
    return {"root": TEST_ROOT, "path": str(Path(directory).relative_to(base))}
