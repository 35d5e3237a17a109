"""The admin of the `rewardtrain` app: Django's admin imports this module, which registers the sub-packages'."""

from rewardtrain.snapshots import admin as snapshots_admin

__all__ = ["snapshots_admin"]
