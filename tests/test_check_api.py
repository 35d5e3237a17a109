"""`make check-api` (scripts/api_client.sh check) passes on the committed client and fails on a stale one.

The browser app's API types (frontend/src/api/schema.d.ts) are generated from the OpenAPI schema; a client that
no longer matches the schema (a serializer changed, the file was edited by hand) must fail the check, saying
which file is stale and how to fix it.
"""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "api_client.sh"
CLIENT = ROOT / "frontend" / "src" / "api" / "schema.d.ts"
GENERATOR = ROOT / "frontend" / "node_modules" / ".bin" / "openapi-typescript"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not GENERATOR.exists(), reason="frontend/node_modules is not installed (npm ci)"),
]


def check(client: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), "check", str(client)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_check_api_passes_on_the_committed_client():
    result = check(CLIENT)
    assert result.returncode == 0, result.stderr
    assert "matches the schema" in result.stdout


def test_check_api_fails_on_a_stale_client(tmp_path):
    text = CLIENT.read_text()
    # One field's type changed, as if a serializer had been edited without regenerating the client.
    stale_text = text.replace("retrain: boolean;", "retrain: string;", 1)
    assert stale_text != text
    stale = tmp_path / "schema.d.ts"
    stale.write_text(stale_text)

    result = check(stale)
    assert result.returncode == 1
    assert f"{stale} is stale" in result.stderr
    assert "make api-client" in result.stderr
    assert "-            retrain: string;" in result.stderr  # the diff shows what drifted
