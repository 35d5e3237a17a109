"""The models of the `rewardtrain` app. They are defined in its sub-packages, which are not apps of their own
(`rewardtrain.snapshots`); Django registers a model when its module is imported, and it imports this one."""

from rewardtrain.snapshots.models import Snapshot, SnapshotDownload, SnapshotKind, SnapshotStatus

__all__ = ["Snapshot", "SnapshotDownload", "SnapshotKind", "SnapshotStatus"]
