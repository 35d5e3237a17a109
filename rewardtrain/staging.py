"""Staging: what a job needs from the store, copied into this worker's content-addressed cache.

`rewardtrain/training/` takes local paths and knows nothing of the store; the task layer asks here for a local
folder first. Files are named by the SHA-256 their manifest gives, so a second job on the same snapshot (or a
snapshot with the same bytes) finds them without asking the store, and a corrupt download is refused.
"""

import json
import logging
import shutil
from functools import lru_cache
from pathlib import Path, PurePosixPath

from django.conf import settings

from annotate import storage
from rewardtrain.artifact_cache import ArtifactCache, CorruptArtifact, TreeFile
from rewardtrain.snapshots.models import Snapshot
from rewardtrain.snapshots.services import snapshot_key

# What `rewardtrain.training` reads from a snapshot folder (the Parquet copies are for people and `datasets`).
TRAINING_SUFFIX = ".jsonl"

logger = logging.getLogger(__name__)


class NothingToStage(RuntimeError):
    pass


@lru_cache(maxsize=4)
def _cache(root: str, max_bytes: int, min_idle_s: float) -> ArtifactCache:
    return ArtifactCache(Path(root), max_bytes, min_idle_s)


def worker_cache() -> ArtifactCache:
    """This process's cache (one per configured folder, so its hit and miss counts add up across jobs)."""
    return _cache(
        str(settings.ANNOTATE_CACHE_DIR),
        settings.ANNOTATE_CACHE_MAX_BYTES,
        settings.ANNOTATE_CACHE_MIN_IDLE_S,
    )


def snapshot_stage(snapshot: Snapshot) -> Path:
    """A local folder holding a ready snapshot's training files (its JSONL splits), checked against its
    manifest's SHA-256s; downloaded only when this worker's cache does not hold them already."""
    files = [
        TreeFile(name, snapshot_key(snapshot, name), info["sha256"])
        for name, info in sorted((snapshot.manifest or {}).get("files", {}).items())
        if name.endswith(TRAINING_SUFFIX)
    ]
    if not files:
        raise NothingToStage(f"snapshot {snapshot.pk} (v{snapshot.version}) lists no training files")
    return worker_cache().tree(files)


# Runs publish what they write, under their key `runs/<project>/<run>` (`TrainingRun.storage_key`):
#
#     runs/<p>/<r>/<file>                             the model folder: every file but checkpoints/ and torchrun/
#     runs/<p>/<r>/manifest.json                      {"files": [{"name", "size", "sha256"}]}: the model
#     runs/<p>/<r>/checkpoints/step-N/<file>          the newest checkpoint
#     runs/<p>/<r>/checkpoints/step-N/manifest.json   written last: the checkpoint is complete
#
# Keys are paths relative to MEDIA_ROOT, where a run writes its output: on the default store a file already at
# its key is not copied, and a stored model is loaded from where it is.
MANIFEST = "manifest.json"
NOT_MODEL = frozenset({"checkpoints", "torchrun"})  # sub-folders of a run's output that are not its model


def _in_place(key: str, path: Path) -> bool:
    """True when the store is the local filesystem and `key` is the file (or folder) at `path` itself."""
    return storage.is_local() and Path(storage.store().path(key)).resolve() == path.resolve()


def _publish_file(key: str, path: Path) -> dict:
    if _in_place(key, path):
        return {"size": path.stat().st_size, "sha256": storage.sha256_of(path)}
    stored = storage.put_file(key, path)
    return {"size": stored.size, "sha256": stored.sha256}


def _publish_folder(folder: Path, prefix: str, skip: frozenset[str] = frozenset()) -> str:
    """Store every file of `folder` under `prefix`, then its manifest (last); returns the manifest's key."""
    entries = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or rel.parts[0] in skip or rel.name.startswith(".") or str(rel) == MANIFEST:
            continue
        entries.append({"name": rel.as_posix(), **_publish_file(f"{prefix}/{rel.as_posix()}", path)})
    key = f"{prefix}/{MANIFEST}"
    storage.put_bytes(key, (json.dumps({"files": entries}, indent=1) + "\n").encode())
    return key


def _manifest_files(manifest_key: str) -> list[TreeFile]:
    with storage.open_file(manifest_key) as fh:
        manifest = json.loads(fh.read())
    folder = str(PurePosixPath(manifest_key).parent)
    return [
        TreeFile(f["name"], storage.clean_key(f"{folder}/{f['name']}"), f["sha256"])
        for f in manifest["files"]
    ]


def model_publish(out_dir: Path, prefix: str) -> str:
    """Publish a finished run's model folder under `prefix`; returns the manifest key its `run:` reference names."""
    return _publish_folder(Path(out_dir), prefix, NOT_MODEL)


def model_stage(manifest_key: str) -> Path:
    """A local folder holding the stored model `manifest_key` names: this worker's cached copy (downloaded once,
    checked against the manifest's SHA-256s); on the local filesystem, the stored folder itself."""
    files = _manifest_files(manifest_key)
    if storage.is_local():
        return Path(storage.store().path(str(PurePosixPath(manifest_key).parent)))
    return worker_cache().tree(files)


def _step(name: str) -> int:
    return int(name.split("-")[1])


def _stored_checkpoints(prefix: str) -> dict[str, list[str]]:
    """The stored checkpoint folders of a run, by name, with their keys."""
    root = f"{prefix}/checkpoints"
    found: dict[str, list[str]] = {}
    for key in storage.keys_under(root):
        name = key[len(root) + 1 :].split("/", 1)[0]
        if name.startswith("step-"):
            found.setdefault(name, []).append(key)
    return found


def checkpoint_publish(out_dir: Path, prefix: str, published: str | None = None) -> str | None:
    """Store the newest complete checkpoint in `out_dir/checkpoints` unless it is `published`, then drop the
    older stored ones; returns the name of the newest stored one (None while there is none).

    The trainer may remove a checkpoint folder while it is being stored (a newer one replaced it): that upload
    stays incomplete (no manifest) and the next call stores the newer one."""
    from rewardtrain.training.checkpoint import list_checkpoints  # torch: workers only

    local = list_checkpoints(out_dir)
    if not local or local[-1].name == published:
        return published
    newest = local[-1]
    base = f"{prefix}/checkpoints/{newest.name}"
    if _in_place(base, newest):
        return newest.name  # the default store: the trainer wrote it at its key (and keeps only the newest)
    try:
        _publish_folder(newest, base)
    except FileNotFoundError:
        return published
    for name, keys in _stored_checkpoints(prefix).items():
        if name != newest.name:
            # Its manifest first: a checkpoint half deleted is an incomplete one, never a corrupt one.
            for key in sorted(keys, key=lambda k: not k.endswith(f"/{MANIFEST}")):
                storage.delete(key)
    return newest.name


def checkpoint_restore(out_dir: Path, prefix: str) -> Path | None:
    """Before a run trains: when the store holds a newer complete checkpoint than `out_dir/checkpoints` (a run
    taken up on another host), download it there, so that the trainer's `resume="auto"` resumes from it."""
    from rewardtrain.training.checkpoint import checkpoint_root, list_checkpoints  # torch: workers only

    stored = [
        name
        for name, keys in _stored_checkpoints(prefix).items()
        if f"{prefix}/checkpoints/{name}/{MANIFEST}" in keys
    ]
    if not stored:
        return None
    name = max(stored, key=_step)
    local = list_checkpoints(out_dir)
    if local and _step(local[-1].name) >= _step(name):
        return None
    root = checkpoint_root(out_dir)
    building = root / f".restore-{name}"
    shutil.rmtree(building, ignore_errors=True)
    for f in _manifest_files(f"{prefix}/checkpoints/{name}/{MANIFEST}"):
        path = storage.get_file(f.key, building / f.name)
        if storage.sha256_of(path) != f.sha256:
            shutil.rmtree(building, ignore_errors=True)
            raise CorruptArtifact(f"{f.key}: not the SHA-256 its checkpoint manifest gives")
    target = root / name
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    logger.info("restored checkpoint %s of %s from the store", name, prefix)
    return target
