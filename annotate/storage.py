"""One storage layer for every file the app writes or reads: uploads, snapshot files, checkpoints, models.

A file is named by a key, a relative POSIX path such as ``snapshots/3/2/pairs.train.jsonl``. On the local
filesystem (the default) a key is a file under ``MEDIA_ROOT``; with ``ANNOTATE_STORAGE_URL=s3://bucket/prefix``
it is an object under that prefix (`annotate/storage_url.py`). Files move as streams: uploads are multipart in
16 MiB parts and downloads ranged, so a 1 GB checkpoint never sits in memory on either side.

This is the only module that knows which kind of store is configured; callers never build host paths for
artifacts, so web, default workers and GPU workers can run on machines that share nothing but the store.
"""

import hashlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


class BadKey(ValueError):
    pass


def store() -> Storage:
    return storages["default"]


def is_local() -> bool:
    return isinstance(store(), FileSystemStorage)


def clean_key(key: str) -> str:
    """`key` if it is a plain relative path; keys are made by our code, but one that climbs out is refused."""
    path = PurePosixPath(key)
    if (
        not key
        or "\\" in key
        or "\x00" in key
        or path.is_absolute()
        or any(p in ("", ".", "..") for p in path.parts)
    ):
        raise BadKey(f"not a storage key: {key!r}")
    if str(path) != key:
        raise BadKey(f"not a storage key in normal form: {key!r}")
    return key


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _s3_key(key: str) -> str:
    location = store().location.strip("/")
    return f"{location}/{key}" if location else key


def _s3_object(key: str):
    return store().bucket.Object(_s3_key(key))


def put_file(key: str, path: Path) -> StoredFile:
    """Store the file at `path` under `key` (replacing what was there); streamed, multipart on S3."""
    key, path = clean_key(key), Path(path)
    digest = sha256_of(path)
    if is_local():
        target = Path(store().path(key))
        target.parent.mkdir(parents=True, exist_ok=True)
        # A reader never sees half a file: copy beside it, then rename over.
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".put-", delete=False) as tmp:
            partial = Path(tmp.name)
        try:
            with path.open("rb") as src, partial.open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    else:
        _s3_object(key).upload_file(
            str(path), Config=store().transfer_config, ExtraArgs={"Metadata": {"sha256": digest}}
        )
    return StoredFile(key, path.stat().st_size, digest)


def put_bytes(key: str, data: bytes) -> StoredFile:
    with tempfile.TemporaryDirectory(prefix="annotate-put-") as tmp:
        path = Path(tmp) / "data"
        path.write_bytes(data)
        return put_file(key, path)


def get_file(key: str, dest: Path) -> Path:
    """Download `key` to `dest` (streamed; ranged parts on S3). The file appears whole or not at all."""
    key, dest = clean_key(key), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".get-", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        if is_local():
            with store().open(key, "rb") as src, partial.open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
        else:
            _s3_object(key).download_file(str(partial), Config=store().transfer_config)
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def open_file(key: str) -> IO[bytes]:
    """A binary stream of `key`, read as it is consumed (on S3: the body of one GET, never copied to disk
    first); FileNotFoundError when there is no such file."""
    key = clean_key(key)
    if is_local():
        return store().open(key, "rb")
    try:
        body = _s3_object(key).get()["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise FileNotFoundError(key) from exc
        raise
    return io.BufferedReader(body, CHUNK)


def exists(key: str) -> bool:
    return store().exists(clean_key(key))


def size(key: str) -> int:
    return store().size(clean_key(key))


def delete(key: str) -> None:
    store().delete(clean_key(key))


def keys_under(prefix: str) -> Iterator[str]:
    """Every key below `prefix` (a folder-like key), sorted."""
    prefix = clean_key(prefix.rstrip("/"))
    if is_local():
        root = Path(store().path(prefix))
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".put-")):
                yield f"{prefix}/{path.relative_to(root).as_posix()}"
        return
    start = _s3_key(prefix) + "/"
    cut = len(_s3_key(prefix)) - len(prefix)
    for obj in store().bucket.objects.filter(Prefix=start):
        yield obj.key[cut:]


def delete_under(prefix: str) -> int:
    keys = list(keys_under(prefix))
    for key in keys:
        delete(key)
    if is_local():  # folders are a filesystem's, not keys: the ones left empty go too
        root = Path(store().path(clean_key(prefix.rstrip("/"))))
        if root.is_dir():
            for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                if not any(folder.iterdir()):
                    folder.rmdir()
            if not any(root.iterdir()):
                root.rmdir()
    return len(keys)


def download_url(key: str, filename: str, content_type: str) -> str | None:
    """A short-lived presigned link to `key` where the store is S3 (the client downloads from the store, not
    through the web server); None on the local filesystem, or where the store is not reachable from clients
    (`ANNOTATE_STORAGE_REDIRECT=false`): then the web server streams the file itself."""
    if is_local() or not settings.ANNOTATE_STORAGE_REDIRECT:
        return None
    safe = filename.replace('"', "").replace("\\", "")
    return store().url(
        clean_key(key),
        parameters={
            "ResponseContentDisposition": f'attachment; filename="{safe}"',
            "ResponseContentType": content_type,
        },
    )
