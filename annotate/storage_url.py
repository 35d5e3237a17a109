"""`ANNOTATE_STORAGE_URL` → Django's `STORAGES["default"]`. Read by settings at start; imports nothing from Django.

- unset or empty: the local filesystem under `MEDIA_ROOT` (the embedded default: one machine, nothing to run);
- `s3://bucket/prefix`: any S3-compatible store (AWS S3, MinIO, Ceph RGW) through django-storages and boto3.
  The endpoint comes from `AWS_S3_ENDPOINT_URL` (unset: AWS), the region from `AWS_S3_REGION_NAME`, and the
  credentials from boto3's usual chain (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, an instance role, ...).
"""

from collections.abc import Mapping
from urllib.parse import urlsplit

MiB = 1024 * 1024
# Multipart parts of 16 MiB, at most 4 in flight: a transfer holds about 64 MiB whatever the file's size.
PART_BYTES = 16 * MiB
MAX_CONCURRENCY = 4


class StorageUrlError(ValueError):
    pass


def default_storage_setting(url: str | None, env: Mapping[str, str]) -> dict:
    """The `STORAGES["default"]` entry for `url`."""
    if not url:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise StorageUrlError(
            f"ANNOTATE_STORAGE_URL must be s3://bucket/prefix (or unset for the local filesystem), not {url!r}"
        )
    if parts.query or parts.fragment:
        raise StorageUrlError("ANNOTATE_STORAGE_URL takes no query or fragment; use the AWS_S3_* variables")
    from boto3.s3.transfer import TransferConfig  # only where the store is S3

    link_seconds = env.get("ANNOTATE_STORAGE_LINK_SECONDS", "300")
    if not link_seconds.isdigit() or not 1 <= int(link_seconds) <= 604800:
        raise StorageUrlError(
            f"ANNOTATE_STORAGE_LINK_SECONDS must be 1 to 604800 seconds, not {link_seconds!r}"
        )

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": parts.netloc,
            "location": parts.path.strip("/"),
            "endpoint_url": env.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env.get("AWS_S3_REGION_NAME") or env.get("AWS_DEFAULT_REGION") or None,
            "addressing_style": env.get("AWS_S3_ADDRESSING_STYLE") or None,
            # Artifacts are named by what they are (a snapshot's version, a run's step): writing again replaces.
            "file_overwrite": True,
            "default_acl": None,
            # Presigned download links live five minutes: long enough to start, short enough not to be shared.
            "querystring_expire": int(link_seconds),
            # django-storages reads a whole object into a spooled file; past this it spools to disk.
            "max_memory_size": 8 * MiB,
            "transfer_config": TransferConfig(
                multipart_threshold=PART_BYTES,
                multipart_chunksize=PART_BYTES,
                max_concurrency=MAX_CONCURRENCY,
            ),
        },
    }
