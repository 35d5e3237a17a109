"""The browser app calls only API paths that exist: every `/api/...` literal in frontend/src must resolve, and
to a view of the `labeling.api` (or another app's API) rather than to the SPA catch-all. A cheap guard against
the UI drifting from the API (the OpenAPI schema at /api/schema/ describes each of them)."""

import re
from pathlib import Path

import pytest
from django.urls import resolve

SRC = Path(__file__).resolve().parents[1] / "frontend" / "src"
LITERAL = re.compile(r"""[`"](/api/[^`"?]*)""")


GENERATED = SRC / "api"  # the types generated from the schema (its paths come from the URLconf itself)


def api_paths() -> list[str]:
    found = set()
    for path in SRC.rglob("*.ts*"):
        if GENERATED in path.parents:
            continue
        for match in LITERAL.finditer(path.read_text()):
            # `${id}` in a call, `{project_id}` in a schema path named for its type (ResponseOf<"/api/…">)
            found.add(re.sub(r"\$?\{[^}]+\}", "1", match.group(1)))
    return sorted(found)


def test_frontend_sources_found():
    assert len(api_paths()) >= 15


@pytest.mark.parametrize("path", api_paths())
def test_frontend_api_path_resolves(path: str):
    match = resolve(path)
    assert match.url_name != "spa", f"{path} is not an API route"
