"""The deployment files, checked without a Docker engine: the compose file's structure, the settings each app
service starts with, and the image's static folder as its Dockerfile builds it."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = ("web", "worker", "gpu-worker")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env(service: dict) -> dict[str, str]:
    """The service's environment with `${VAR:-default}` resolved to its default (`${VAR:?}` to a stand-in)."""

    def resolve(value) -> str:
        value = str(value)
        value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
        return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", secrets.token_urlsafe(48), value)

    return {key: resolve(value) for key, value in (service.get("environment") or {}).items()}


def test_the_services_and_their_health_checks(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "minio", "minio-bucket", *APP_SERVICES}
    for name, service in services.items():
        if name != "minio-bucket":  # a one-shot job that creates the bucket
            assert "healthcheck" in service, name
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["minio-bucket"]["condition"] == "service_completed_successfully"


def test_one_image_for_web_and_workers(compose):
    services = compose["services"]
    builds = {name: services[name]["build"] for name in APP_SERVICES}
    assert {b["context"] for b in builds.values()} == {"."}
    assert all(b.get("dockerfile", "Dockerfile") == "Dockerfile" for b in builds.values())
    # The gpu worker's build differs only by the torch wheel index it passes.
    assert set(builds["gpu-worker"].get("args", {})) <= {"TORCH_INDEX"}
    assert "cu" in builds["gpu-worker"]["args"]["TORCH_INDEX"]
    assert "-Q default" in services["worker"]["command"]
    assert "-Q gpu" in services["gpu-worker"]["command"]
    gpus = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpus["driver"] == "nvidia" and "gpu" in gpus["capabilities"]


def test_web_and_workers_share_no_volume_and_use_the_object_store(compose):
    services = compose["services"]
    owners: dict[str, list[str]] = {}
    for name in APP_SERVICES:
        for mount in services[name].get("volumes", []):
            owners.setdefault(str(mount).split(":")[0], []).append(name)
        env = _env(services[name])
        assert env["ANNOTATE_STORAGE_URL"].startswith("s3://")
        assert env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert all(len(users) == 1 for users in owners.values()), owners
    bucket = _env(services["web"])["ANNOTATE_STORAGE_URL"][len("s3://") :].split("/")[0]
    assert f"store/{bucket}" in " ".join(services["minio-bucket"]["entrypoint"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_starts_with_its_compose_settings(compose, name, tmp_path):
    """The settings module loads with exactly the compose environment, and points storage at MinIO."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ANNOTATE_", "AWS_"))}
    env.update(_env(compose["services"][name]))
    env["ANNOTATE_VAR_DIR"] = str(tmp_path)  # /data in the container
    env.pop("DJANGO_SETTINGS_MODULE", None)
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "o = s.STORAGES['default'].get('OPTIONS', {}); "
        "print(json.dumps({'backend': s.STORAGES['default']['BACKEND'], 'bucket': o.get('bucket_name'), "
        "'endpoint': o.get('endpoint_url'), 'redirect': s.ANNOTATE_STORAGE_REDIRECT, 'debug': s.DEBUG}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "annotate.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {
        "backend": "storages.backends.s3.S3Storage",
        "bucket": "annotate",
        "endpoint": "http://minio:9000",
        "redirect": False,
        "debug": False,
    }


def test_the_image_builds_the_browser_app_and_its_static_folder_holds_it(tmp_path):
    """The Dockerfile's steps: a Node stage builds frontend/dist, the app stage copies it in before
    collectstatic. The same collectstatic, run here on the built app, gives the folder the image serves."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"(?m)^FROM ", dockerfile)[1:]
    assert len(stages) == 2 and stages[0].startswith("node:") and " AS frontend" in stages[0]
    assert "npm ci" in stages[0] and "npm run build" in stages[0]
    app = stages[1]
    copy_at = app.index("COPY --from=frontend /frontend/dist frontend/dist")
    assert copy_at < app.index("manage.py collectstatic")
    static_root = re.search(r"DJANGO_STATIC_ROOT=(\S+)", app).group(1)

    dist = ROOT / "frontend" / "dist"
    if not (dist / "index.html").is_file():
        pytest.fail("frontend/dist is not built: `make test` builds it first (make frontend)")
    collected = tmp_path / "static"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "annotate.settings", "DJANGO_SECRET_KEY": "build-only"}
    env["DJANGO_STATIC_ROOT"] = str(collected)
    for key in ("DATABASE_URL", "ANNOTATE_STORAGE_URL"):
        env.pop(key, None)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    index = (collected / "index.html").read_text()
    bundles = re.findall(r'src="/static/(assets/[^"]+\.js)"', index)
    assert bundles and all((collected / b).is_file() for b in bundles)
    assert static_root == "/app/static"  # the image's STATIC_ROOT, whatever ANNOTATE_VAR_DIR is at run time
