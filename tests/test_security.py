"""Security settings and the classes of bug of Label Studio's advisories: default secret key, SSRF through URL
import, stored XSS through uploaded and downloaded files, uploads of any size or type; plus the security
headers (CSP without inline script, frame and sniffing protection, HSTS over HTTPS in production) and
`manage.py check --deploy` with production settings."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from labeling.models import Prompt, Task
from labeling.services.imports import import_file
from labeling.tests.factories import make_project, make_user

ROOT = Path(__file__).resolve().parents[1]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def run_manage(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    environment.setdefault("DJANGO_SETTINGS_MODULE", "annotate.settings")
    environment.setdefault(
        "DATABASE_URL", os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


# --- Secret key and production settings -------------------------------------------------------------------


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage(["manage.py", "check"], DJANGO_ENV="production")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("weak", ["changeme", "django-insecure-" + "a" * 40, "x" * 64])
def test_production_refuses_a_weak_secret_key(weak: str):
    result = run_manage(["manage.py", "check"], DJANGO_ENV="production", DJANGO_SECRET_KEY=weak)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is too weak" in result.stderr


def test_development_key_is_random_never_hard_coded():
    source = (ROOT / "annotate" / "settings.py").read_text()
    assert not re.search(r"SECRET_KEY\s*=\s*['\"]", source)
    assert len(settings.SECRET_KEY) >= 50 and not settings.SECRET_KEY.startswith("django-insecure")


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


PROBE = """
import django, json
django.setup()
from django.test import Client
c = Client()
plain = c.get("/api/auth/csrf")
tls = c.get("/api/auth/csrf", secure=True)
print(json.dumps({"plain": [plain.status_code, plain.get("Location", "")],
                  "tls": [tls.status_code, tls.get("Strict-Transport-Security", "")],
                  "cookie_secure": bool(tls.cookies["csrftoken"]["secure"])}))
"""


def test_production_redirects_to_https_and_sends_hsts_over_https_only():
    import json

    result = run_manage(
        ["-c", PROBE],
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["plain"] == [301, "https://testserver/api/auth/csrf"]
    assert probe["tls"][0] == 200 and "max-age=31536000" in probe["tls"][1]
    assert probe["cookie_secure"] is True


# --- Headers -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/projects/1/work", "/api/auth/csrf", "/api/projects/", "/admin/login/", "/api/docs/"]
)
def test_security_headers_everywhere(path: str):
    response = Client().get(path)
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # never 'unsafe-inline' or 'unsafe-eval'
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'" and directives["default-src"] == "'self'"
    if not path.startswith("/api/docs/"):
        assert directives["style-src"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    # Not HTTPS (and not production): no HSTS, which would pin a plain-HTTP development host.
    assert "Strict-Transport-Security" not in response


def _inline_scripts(html: str) -> list[str]:
    return [m for m in re.findall(r"<script\b([^>]*)>", html, flags=re.I) if "src=" not in m]


def test_browser_app_has_no_inline_script():
    sources = [ROOT / "frontend" / "index.html"]
    built = Path(settings.FRONTEND_DIST) / "index.html"
    if built.exists():
        sources.append(built)
    for source in sources:
        html = source.read_text()
        assert _inline_scripts(html) == [], source
        assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), f"inline event handler in {source}"


@pytest.mark.django_db
def test_api_docs_need_no_inline_script():
    admin = make_user(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert _inline_scripts(page.content.decode()) == []
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


# --- Uploads -----------------------------------------------------------------------------------------------


def _upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def admin_project():
    admin = make_user(is_staff=True)
    project = make_project(admin=admin)
    client = APIClient()
    client.force_authenticate(admin)
    return client, project


GOOD = b'{"external_id": "a", "prompt": "Hello?"}\n'


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "content_type", "field", "message"),
    [
        ("page.html", GOOD, "text/html", "file", "is not an import file"),
        ("items.jsonl", GOOD, "text/html", "file", "are not imported"),
        ("items.jsonl", GOOD, "image/svg+xml", "file", "are not imported"),
        ("evil.svg", b"<svg onload=alert(1)>", "image/svg+xml", "file", "is not an import file"),
        ("items.jsonl", b"\x00\x01PK\x03\x04" + GOOD, "application/octet-stream", None, "binary"),
    ],
)
def test_uploads_of_other_types_are_refused_and_nothing_is_written(
    admin_project, name, data, content_type, field, message
):
    client, project = admin_project
    before = (Prompt.objects.count(), Task.objects.count())
    response = client.post(
        f"/api/projects/{project.pk}/imports/", {"file": _upload(name, data, content_type), "kind": "prompts"}
    )
    assert response.status_code == 400
    body = response.json()
    if field:  # serializer errors have the API's one error shape, naming the field
        text = " ".join(e["message"] for e in body["errors"] if e.get("field") == field)
    else:
        text = body["detail"]
    assert message in text
    assert (Prompt.objects.count(), Task.objects.count()) == before


@pytest.mark.django_db
def test_upload_size_is_limited(admin_project, settings):
    client, project = admin_project
    settings.IMPORT_MAX_BYTES = 1000
    big = GOOD * 100
    response = client.post(
        f"/api/projects/{project.pk}/imports/", {"file": _upload("big.jsonl", big), "kind": "prompts"}
    )
    assert response.status_code == 400 and response.json()["code"] == "too_large"
    assert "import limit is" in response.json()["detail"]
    assert not Prompt.objects.filter(project=project).exists()


# --- SSRF: no import from a URL ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["url", "file_url", "source_url"])
@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"]
)
def test_import_from_a_url_is_refused(admin_project, field, target):
    client, project = admin_project
    response = client.post(f"/api/projects/{project.pk}/imports/", {field: target, "kind": "prompts"})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert "Import from a URL is not offered" in error["message"] and error["field"] == "url"
    json_body = client.post(
        f"/api/projects/{project.pk}/imports/", {field: target, "kind": "prompts"}, format="json"
    )
    assert json_body.status_code == 415  # the import takes a multipart upload only


def test_no_server_side_url_fetching_in_the_app():
    """No code path of the app fetches a URL it was given (the generation engineer's OpenAI-compatible endpoint,
    set by project admins only, is the one outbound URL, outside the labeling and export code)."""
    fetchers = re.compile(r"\b(urlopen|requests\.(get|post)|httpx\.|urllib\.request|aiohttp)\b")
    offenders = []
    for folder in (
        "labeling",
        "rewardtrain/snapshots",
        "rewardtrain/suggestions",
        "rewardtrain/lost_jobs",
        "rewardtrain/importers",
        "annotate",
    ):
        for path in (ROOT / folder).rglob("*.py"):
            if "/tests/" in str(path):
                continue
            if fetchers.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# --- Stored XSS through downloaded files -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_snapshot_files_are_attachments_of_fixed_type(tmp_path, settings, eager_celery):
    import json

    from rewardtrain.tests.helpers import candidate_ids, rank

    settings.MEDIA_ROOT = tmp_path
    admin = make_user(is_staff=True)
    project = make_project(admin=admin, k_answers=4)
    item = {"external_id": "x", "prompt": XSS, "answers": [XSS, "<b>b</b>", "c</script>", "d"]}
    import_file(project=project, user=admin, data=json.dumps(item).encode(), kind="ranking_items")
    task = project.tasks.get()
    rank(task, admin, [[i] for i in candidate_ids(task)])
    client = APIClient()
    client.force_authenticate(admin)
    created = client.post(
        f"/api/projects/{project.pk}/snapshots/",
        {"kind": "pairwise", "validation_fraction": 0},
        format="json",
    )
    sid = created.json()["id"]
    detail = client.get(f"/api/projects/{project.pk}/snapshots/{sid}/").json()
    assert detail["status"] == "ready", detail
    allowed = {"application/x-ndjson", "application/octet-stream", "application/json"}
    for name in [*detail["manifest"]["files"], "manifest.json"]:
        response = client.get(f"/api/projects/{project.pk}/snapshots/{sid}/files/{name}")
        assert response.status_code == 200
        assert response["Content-Type"] in allowed, name
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        body = b"".join(response.streaming_content)
        if name == "train.jsonl":
            assert b"onerror=alert(1)" in body  # the data is kept verbatim, only never served as HTML
    for bad in ["..", "..%2F..%2Fsettings.py", "%2Fetc%2Fpasswd", "train.jsonl%00.html"]:
        assert client.get(f"/api/projects/{project.pk}/snapshots/{sid}/files/{bad}").status_code == 404
