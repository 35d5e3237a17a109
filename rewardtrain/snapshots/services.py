"""Snapshots: create one (queued, built by a Celery task after commit), build it, log its downloads.

A build runs in three steps so that its status can be polled: claim the queued row (building), write the files
outside any long transaction (streaming reads), then mark it ready with its manifest, or failed with the error.
Files are written to a local temporary folder, then stored (`annotate/storage.py`) under the keys
`snapshots/<project>/<version>/<file>`, the manifest last: a snapshot is ready only once all its files are stored.
"""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotate import storage
from annotate.jobs import enqueue_on_commit
from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import ApiToken, Project
from labeling.services.agreement import labeler_quality
from rewardtrain import records, writers
from rewardtrain.jobs import job_failure
from rewardtrain.pair_columns import pairwise_columns
from rewardtrain.pairs import SPLITS, TRAIN
from rewardtrain.params import SnapshotParams, snapshot_params_from
from rewardtrain.snapshots.models import Snapshot, SnapshotDownload, SnapshotKind, SnapshotStatus

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STALE_BUILD_SECONDS = 2 * 3600


def snapshot_dir(snapshot: Snapshot) -> Path:
    """Where a snapshot's files are on the local filesystem store only; readers use `snapshot_key`."""
    return Path(settings.MEDIA_ROOT) / snapshot.relative_dir


def snapshot_key(snapshot: Snapshot, file_name: str) -> str:
    """The storage key of one of a snapshot's files (or its manifest)."""
    return f"{snapshot.relative_dir}/{file_name}"


@transaction.atomic
def snapshot_create(
    *, project: Project, user: AbstractBaseUser | None, settings_data: dict[str, Any]
) -> Snapshot:
    """Check the settings, take the project's next version number and queue the build after commit."""
    params = snapshot_params_from(settings_data)
    Project.objects.select_for_update().filter(pk=project.pk).first()
    last = Snapshot.objects.filter(project=project).aggregate(v=Max("version"))["v"] or 0
    snapshot = Snapshot.objects.create(
        project=project,
        version=last + 1,
        kind=params.kind,
        params=params.as_dict(),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    audit_record(
        AuditAction.SNAPSHOT_CREATE,
        project=project,
        actor=snapshot.created_by,
        target=snapshot,
        details={"version": snapshot.version, "kind": snapshot.kind},
    )
    enqueue_on_commit("rewardtrain.tasks.snapshot_build", snapshot.pk)
    return snapshot


def _claim(snapshot_id: int) -> Snapshot | None:
    with transaction.atomic():
        snapshot = Snapshot.objects.select_for_update().filter(pk=snapshot_id).first()
        if snapshot is None:
            return None
        # A build whose worker died (the message is delivered again, acks_late) is taken over once it is stale.
        stale = (
            snapshot.status == SnapshotStatus.BUILDING
            and snapshot.started_at is not None
            and snapshot.started_at < timezone.now() - timedelta(seconds=STALE_BUILD_SECONDS)
        )
        if snapshot.status != SnapshotStatus.QUEUED and not stale:
            return None
        snapshot.status = SnapshotStatus.BUILDING
        snapshot.started_at = timezone.now()
        snapshot.save(update_fields=["status", "started_at"])
        return snapshot


def _excluded_labelers(project_id: int, params: SnapshotParams) -> dict[int, dict[str, Any]]:
    """Labelers below the agreement or gold-accuracy threshold; those with no figure are kept."""
    if params.min_agreement is None and params.min_gold_accuracy is None:
        return {}
    out: dict[int, dict[str, Any]] = {}
    for user_id, quality in labeler_quality(project_id).items():
        agreement, gold = quality["agreement"], quality["gold_accuracy"]
        low_agreement = (
            params.min_agreement is not None and agreement is not None and agreement < params.min_agreement
        )
        low_gold = (
            params.min_gold_accuracy is not None and gold is not None and gold < params.min_gold_accuracy
        )
        if low_agreement or low_gold:
            out[user_id] = {"user_id": user_id, "agreement": agreement, "gold_accuracy": gold}
    return out


# Each yields (split, what to write): a record, or a run of records column-wise (`writers.Columns`), which is
# how the pairwise kind, many times larger than the others, comes (`pair_columns.py`).
_SOURCES = {
    SnapshotKind.PAIRWISE: pairwise_columns,
    SnapshotKind.KWISE: records.kwise_records,
    SnapshotKind.SFT: records.sft_records,
    SnapshotKind.PROMPTS: records.prompt_records,
}


def _schema(params: SnapshotParams) -> Any:
    if params.kind == SnapshotKind.PAIRWISE:
        return writers.pairwise_schema(params.format == "conversational", params.labelers_mode == "majority")
    if params.kind == SnapshotKind.KWISE:
        return writers.kwise_schema(params.aggregate)
    if params.kind == SnapshotKind.PROMPTS:
        return writers.prompts_schema()
    return writers.sft_schema()


def _drop_files(directory: Path, split: dict[str, Any]) -> None:
    """An empty split other than train is not stored: readers such as `datasets.load_dataset` fail on an empty
    JSONL file, and training without a `validation.jsonl` is what an empty one meant anyway (the run says so)."""
    for file_name in split["files"]:
        (directory / file_name).unlink()
    split["files"] = {}


def write_snapshot_files(snapshot: Snapshot, directory: Path) -> dict[str, Any]:
    """Write every split of a snapshot into `directory`; returns the manifest (without the file itself)."""
    params = SnapshotParams.from_dict(snapshot.params)
    excluded_labelers = _excluded_labelers(snapshot.project_id, params)
    excluded = records.Excluded()
    schema = _schema(params)
    split_writers = {name: writers.SplitWriter(directory, name, schema) for name in SPLITS}
    try:
        # Read inside one transaction: the server-side cursors then stream as they are read (in autocommit,
        # PostgreSQL materialises a WITH HOLD cursor's whole result first), and behind PgBouncer in
        # transaction mode they stay on one server connection.
        with transaction.atomic():
            for split, item in _SOURCES[params.kind](
                snapshot.project_id, params, set(excluded_labelers), excluded
            ):
                if isinstance(item, writers.Columns):
                    split_writers[split].write_columns(item)
                else:
                    split_writers[split].write(item)
    except BaseException:
        for writer in split_writers.values():
            writer.abort()
        raise
    splits = {name: writer.close() for name, writer in split_writers.items()}
    for name, split in splits.items():
        if name != TRAIN and split["records"] == 0:
            _drop_files(directory, split)
    return {
        "project": snapshot.project_id,
        "version": snapshot.version,
        "kind": snapshot.kind,
        "params": snapshot.params,
        "splits": splits,
        "records": sum(s["records"] for s in splits.values()),
        "excluded": dict(sorted(excluded.counts.items())),
        "excluded_labelers": [excluded_labelers[k] for k in sorted(excluded_labelers)],
        "schema": writers.schema_description(schema),
        "files": {file_name: info for split in splits.values() for file_name, info in split["files"].items()},
    }


def snapshot_build(*, snapshot_id: int) -> Snapshot | None:
    """Build a queued snapshot. Returns None when it is not queued (already built, building or gone)."""
    snapshot = _claim(snapshot_id)
    if snapshot is None:
        return None
    try:
        # What a killed attempt left is removed first: its manifest, if any, no longer vouches for its files.
        storage.delete_under(snapshot.relative_dir)
        with tempfile.TemporaryDirectory(prefix=f"annotate-snapshot-{snapshot.pk}-") as tmp:
            work = Path(tmp)
            manifest = write_snapshot_files(snapshot, work)
            manifest.update(
                created_by=snapshot.created_by_id,
                created_at=snapshot.created_at.isoformat(),
                built_at=timezone.now().isoformat(),
            )
            (work / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            for name in sorted(manifest["files"]):
                storage.put_file(snapshot_key(snapshot, name), work / name)
            storage.put_file(snapshot_key(snapshot, MANIFEST), work / MANIFEST)
    except Exception as exc:
        try:
            storage.delete_under(snapshot.relative_dir)
        except Exception:  # the store itself may be what failed; the build's own error is the one to report
            logger.warning("could not remove the files of failed snapshot %s", snapshot_id, exc_info=True)
        with transaction.atomic():
            Snapshot.objects.filter(pk=snapshot_id).update(
                status=SnapshotStatus.FAILED,
                finished_at=timezone.now(),
                **job_failure(exc, f"snapshot {snapshot_id}"),
            )
        snapshot.refresh_from_db()
        return snapshot
    with transaction.atomic():
        snapshot.status = SnapshotStatus.READY
        snapshot.manifest = manifest
        snapshot.finished_at = timezone.now()
        snapshot.save(update_fields=["status", "manifest", "finished_at"])
    return snapshot


@transaction.atomic
def snapshot_download_log(
    *, snapshot: Snapshot, file_name: str, user: AbstractBaseUser, token: ApiToken | None
) -> SnapshotDownload:
    download = SnapshotDownload.objects.create(snapshot=snapshot, file_name=file_name, user=user, token=token)
    audit_record(
        AuditAction.SNAPSHOT_DOWNLOAD,
        project=snapshot.project,
        actor=user,
        target=snapshot,
        details={"version": snapshot.version, "file": file_name, "token_id": token.pk if token else None},
    )
    return download
