from django.contrib import admin

from rewardtrain.snapshots.models import Snapshot, SnapshotDownload


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "version", "kind", "status", "created_by", "created_at")
    list_filter = ("kind", "status")
    readonly_fields = [f.name for f in Snapshot._meta.fields]


@admin.register(SnapshotDownload)
class SnapshotDownloadAdmin(admin.ModelAdmin):
    list_display = ("id", "snapshot", "file_name", "user", "token", "created_at")
    readonly_fields = [f.name for f in SnapshotDownload._meta.fields]
