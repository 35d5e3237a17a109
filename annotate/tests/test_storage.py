"""The storage layer on both stores: the local filesystem and an S3-compatible server (moto, over HTTP)."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from annotate import storage
from annotate.storage_url import StorageUrlError, default_storage_setting

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["local", "s3"])
def any_store(request, settings, tmp_path):
    if request.param == "local":
        settings.MEDIA_ROOT = tmp_path / "media"
        settings.STORAGES = {**settings.STORAGES, "default": default_storage_setting("", {})}
        return "local"
    request.getfixturevalue("s3_storage")
    return "s3"


def test_round_trip_replace_list_and_delete(any_store, tmp_path):
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    stored = storage.put_file("runs/7/checkpoint/model.safetensors", source)
    assert stored.size == source.stat().st_size
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert storage.exists(stored.key) and storage.size(stored.key) == stored.size

    out = storage.get_file(stored.key, tmp_path / "out" / "model.safetensors")
    assert out.read_bytes() == source.read_bytes()
    with storage.open_file(stored.key) as fh:
        assert fh.read(5) == source.read_bytes()[:5]
        assert fh.read() == source.read_bytes()[5:]
    with pytest.raises(FileNotFoundError):
        storage.open_file("runs/7/checkpoint/missing.bin")

    storage.put_bytes("runs/7/checkpoint/state.json", b'{"step": 1}')
    storage.put_bytes("runs/7/checkpoint/state.json", b'{"step": 2}')  # replaces, never renames
    assert (
        storage.get_file("runs/7/checkpoint/state.json", tmp_path / "s.json").read_bytes() == b'{"step": 2}'
    )
    storage.put_bytes("runs/70/other.txt", b"not under runs/7")
    assert list(storage.keys_under("runs/7")) == [
        "runs/7/checkpoint/model.safetensors",
        "runs/7/checkpoint/state.json",
    ]
    assert storage.delete_under("runs/7") == 2
    assert not storage.exists(stored.key) and storage.exists("runs/70/other.txt")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a\\b", "a/\x00"])
def test_keys_never_climb_out(any_store, key):
    with pytest.raises(storage.BadKey):
        storage.put_bytes(key, b"x")


def test_download_links(any_store):
    storage.put_bytes("snapshots/1/1/pairs.train.jsonl", b'{"a": 1}\n')
    url = storage.download_url(
        "snapshots/1/1/pairs.train.jsonl", 'p-v1-"pairs".jsonl', "application/x-ndjson"
    )
    if any_store == "local":
        assert url is None  # the web server streams the file itself
        return
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == b'{"a": 1}\n'
    assert response.headers["Content-Disposition"] == 'attachment; filename="p-v1-pairs.jsonl"'
    assert "X-Amz-Signature" in url or "Signature=" in url


def test_storage_url_is_checked_at_start():
    assert default_storage_setting(None, {})["BACKEND"].endswith("FileSystemStorage")
    s3 = default_storage_setting("s3://bucket/some/prefix/", {"AWS_S3_ENDPOINT_URL": "http://minio:9000"})
    assert s3["OPTIONS"]["bucket_name"] == "bucket" and s3["OPTIONS"]["location"] == "some/prefix"
    assert s3["OPTIONS"]["endpoint_url"] == "http://minio:9000"
    for bad in ("/var/media", "http://bucket", "s3://", "s3://b/p?x=1"):
        with pytest.raises(StorageUrlError, match="ANNOTATE_STORAGE_URL"):
            default_storage_setting(bad, {})
    with pytest.raises(StorageUrlError, match="ANNOTATE_STORAGE_LINK_SECONDS"):
        default_storage_setting("s3://bucket", {"ANNOTATE_STORAGE_LINK_SECONDS": "soon"})


_BIG_ROUND_TRIP = """
import json, os, resource, sys, time
from pathlib import Path
import django
django.setup()
from annotate import storage
src, size = Path(sys.argv[1]), int(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter(); stored = storage.put_file("big/blob.bin", src); t1 = time.perf_counter()
out = storage.get_file("big/blob.bin", src.with_name("back.bin")); t2 = time.perf_counter()
same = storage.sha256_of(out) == stored.sha256
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"same": same, "size": stored.size, "base_mib": base / 1024, "peak_mib": peak / 1024,
                  "up_mb_s": size / 1e6 / (t1 - t0), "down_mb_s": size / 1e6 / (t2 - t1)}))
"""


@pytest.mark.slow
def test_a_1gb_artifact_round_trips_with_flat_memory(s3_server, tmp_path):
    """Multipart upload and ranged download through the S3 API: the process grows by the parts in flight
    (4 parts of 16 MiB), not by the file."""
    size = 1024**3
    blob = tmp_path / "blob.bin"
    block = os.urandom(16 * 1024 * 1024)
    with blob.open("wb") as fh:
        for i in range(size // len(block)):
            fh.write(i.to_bytes(8, "little") + block[8:])  # every part different
    bucket = "big-round-trip"
    client = s3_server.client()
    client.create_bucket(Bucket=bucket)
    env = {**os.environ, **s3_server.env(bucket, "p"), "DJANGO_SETTINGS_MODULE": "annotate.settings_test"}
    try:
        result = subprocess.run(
            [sys.executable, "-c", _BIG_ROUND_TRIP, str(blob), str(size)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:  # 2 GiB on disk and 1 GiB in the S3 server's memory: not kept for the rest of the session
        blob.unlink(missing_ok=True)
        blob.with_name("back.bin").unlink(missing_ok=True)
        client.delete_object(Bucket=bucket, Key="p/big/blob.bin")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(figures)
    assert figures["same"] and figures["size"] == size
    assert figures["peak_mib"] - figures["base_mib"] < 200, figures
