"""An S3-compatible store for tests: moto's standalone server, a real separate process answering over HTTP.

No S3 server is packaged for this machine's registries except through PyPI; moto's server speaks the S3 REST
API (multipart uploads, ranged gets, presigned URLs), which is all the storage layer uses.
"""

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from annotate.storage_url import default_storage_setting
from annotate.tests.live import free_port

ACCESS_KEY, SECRET_KEY, REGION = "testing", "testing", "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    process: subprocess.Popen

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The environment a process (web, worker) needs to use this store."""
        return {
            "ANNOTATE_STORAGE_URL": f"s3://{bucket}/{prefix}".rstrip("/"),
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_S3_REGION_NAME": REGION,
        }

    def storages(self, bucket: str, prefix: str = "") -> dict:
        env = self.env(bucket, prefix)
        options = default_storage_setting(env["ANNOTATE_STORAGE_URL"], env)
        options["OPTIONS"].update(access_key=ACCESS_KEY, secret_key=SECRET_KEY)
        return {
            "default": options,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }


@contextmanager
def running_s3_server(log: Path, host: str = "127.0.0.1") -> Iterator[S3Server]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(moto), "-H", host, "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    endpoint = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield S3Server(endpoint, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    with running_s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture
def s3_storage(s3_server, settings, request) -> S3Server:
    """The app's storage layer pointed at a fresh bucket of the test S3 server, for one test."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    bucket = f"t-{name}-{free_port()}"
    s3_server.client().create_bucket(Bucket=bucket)
    settings.STORAGES = s3_server.storages(bucket, "annotate")
    return s3_server
