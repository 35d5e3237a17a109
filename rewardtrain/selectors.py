"""Reads of snapshots shared by the API views: listings, files on disk, pages of records."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from labeling.models import Project
from labeling.services.errors import ServiceError, conflict, invalid, not_found
from rewardtrain.models import Snapshot, SnapshotDownload, SnapshotStatus
from rewardtrain.pairs import SPLITS
from rewardtrain.services.snapshots import MANIFEST, snapshot_dir
from rewardtrain.writers import sha256_of

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


def snapshot_file(snapshot: Snapshot, file_name: str) -> tuple[Path, str]:
    """The path of one of a ready snapshot's files (or its manifest.json) and its SHA-256; 404 for other names."""
    _ready(snapshot)
    path = snapshot_dir(snapshot) / file_name
    if file_name == MANIFEST and path.is_file():
        return path, sha256_of(path)
    info = snapshot.manifest.get("files", {}).get(file_name)
    if info is None or not path.is_file():
        names = ", ".join(sorted(snapshot.manifest.get("files", {})))
        raise not_found(f"Snapshot {snapshot.pk} has no file '{file_name}'; it has: {names}.")
    return path, info["sha256"]


def snapshot_records_page(snapshot: Snapshot, *, split: str, offset: int, limit: int) -> dict[str, Any]:
    """Records `offset` to `offset + limit` of a split, read from its JSONL file."""
    _ready(snapshot)
    if split not in SPLITS:
        raise invalid(f"Unknown split '{split}'; use one of {', '.join(SPLITS)}.")
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise invalid(f"offset must be 0 or more and limit from 1 to {MAX_PAGE}.")
    count = snapshot.manifest["splits"][split]["records"]
    path = snapshot_dir(snapshot) / f"{split}.jsonl"
    try:
        with path.open(encoding="utf-8") as fh:
            results = [json.loads(line) for line in islice(fh, offset, offset + limit)]
    except FileNotFoundError as exc:
        raise ServiceError(
            f"The files of snapshot {snapshot.pk} are missing.", status=410, code="gone"
        ) from exc
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
