"""Reads of snapshots shared by the API views: listings, stored files, pages of records."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db.models import QuerySet

from annotate import storage
from labeling.models import Project
from labeling.services.errors import ServiceError, conflict, invalid, not_found
from rewardtrain.pairs import SPLITS
from rewardtrain.snapshots.models import Snapshot, SnapshotDownload, SnapshotStatus
from rewardtrain.snapshots.services import MANIFEST, snapshot_key

MAX_PAGE = 1000


def snapshots_for_project(project: Project) -> QuerySet[Snapshot]:
    return Snapshot.objects.filter(project=project).select_related("created_by").order_by("-version")


def snapshot_for_project(project: Project, snapshot_id: int) -> Snapshot:
    snapshot = Snapshot.objects.filter(project=project, pk=snapshot_id).first()
    if snapshot is None:
        raise not_found(f"Snapshot {snapshot_id} does not exist in this project.")
    return snapshot


def _ready(snapshot: Snapshot) -> None:
    if snapshot.status != SnapshotStatus.READY:
        raise conflict(
            f"Snapshot {snapshot.pk} is {snapshot.status}, not ready.", code=f"snapshot_{snapshot.status}"
        )


@dataclass(frozen=True)
class SnapshotFile:
    key: str
    sha256: str
    content_type: str


def _content_type(file_name: str) -> str:
    if file_name.endswith(".jsonl"):
        return "application/x-ndjson"
    if file_name.endswith(".json"):
        return "application/json"
    return "application/octet-stream"


def _gone(snapshot: Snapshot) -> ServiceError:
    return ServiceError(f"The files of snapshot {snapshot.pk} are missing.", status=410, code="gone")


def snapshot_file(snapshot: Snapshot, file_name: str) -> SnapshotFile:
    """One of a ready snapshot's stored files (or its manifest.json) with its SHA-256; 404 for other names."""
    _ready(snapshot)
    files = snapshot.manifest.get("files", {})
    if file_name != MANIFEST and file_name not in files:
        names = ", ".join(sorted(files))
        raise not_found(f"Snapshot {snapshot.pk} has no file '{file_name}'; it has: {names}.")
    key = snapshot_key(snapshot, file_name)
    if file_name == MANIFEST:
        # The manifest's own hash is in no manifest: it is small, so it is read and hashed here.
        try:
            with storage.open_file(key) as fh:
                checksum = hashlib.sha256(fh.read()).hexdigest()
        except FileNotFoundError as exc:
            raise _gone(snapshot) from exc
    else:
        if not storage.exists(key):
            raise _gone(snapshot)
        checksum = files[file_name]["sha256"]
    return SnapshotFile(key, checksum, _content_type(file_name))


def snapshot_downloads(snapshot: Snapshot) -> list[str]:
    """The files of a ready snapshot worth offering: those of its non-empty splits, then its manifest. (Snapshots
    built before empty splits were left out still list an empty `validation.jsonl`: it is not offered.)"""
    if snapshot.status != SnapshotStatus.READY:
        return []
    manifest = snapshot.manifest or {}
    splits = manifest.get("splits") or {}

    def empty(file_name: str) -> bool:
        split = file_name.partition(".")[0]
        return split in splits and not splits[split].get("records")

    return [name for name in sorted(manifest.get("files") or {}) if not empty(name)] + [MANIFEST]


def snapshot_records_page(snapshot: Snapshot, *, split: str, offset: int, limit: int) -> dict[str, Any]:
    """Records `offset` to `offset + limit` of a split, read from its JSONL file."""
    _ready(snapshot)
    if split not in SPLITS:
        raise invalid(f"Unknown split '{split}'; use one of {', '.join(SPLITS)}.")
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise invalid(f"offset must be 0 or more and limit from 1 to {MAX_PAGE}.")
    count = snapshot.manifest["splits"][split]["records"]
    if count == 0:  # an empty split has no stored file (`write_snapshot_files`)
        return {"count": 0, "split": split, "offset": offset, "next_offset": None, "results": []}
    try:
        with storage.open_file(snapshot_key(snapshot, f"{split}.jsonl")) as fh:
            # A stored file iterates by lines (bytes, which json reads as UTF-8).
            results = [json.loads(line) for line in islice(fh, offset, offset + limit)]
    except FileNotFoundError as exc:
        raise _gone(snapshot) from exc
    following = offset + len(results)
    return {
        "count": count,
        "split": split,
        "offset": offset,
        "next_offset": following if following < count else None,
        "results": results,
    }


def downloads_for_project(project: Project, snapshot_id: int | None = None) -> QuerySet[SnapshotDownload]:
    rows = SnapshotDownload.objects.filter(snapshot__project=project).select_related(
        "snapshot", "user", "token"
    )
    if snapshot_id is not None:
        rows = rows.filter(snapshot_id=snapshot_id)
    return rows.order_by("-id")
