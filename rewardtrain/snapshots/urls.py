from django.urls import path

from rewardtrain.snapshots import api

urlpatterns = [
    path("projects/<int:project_id>/snapshots/", api.SnapshotListView.as_view(), name="snapshot-list"),
    path(
        "projects/<int:project_id>/snapshots/<int:snapshot_id>/",
        api.SnapshotDetailView.as_view(),
        name="snapshot-detail",
    ),
    path(
        "projects/<int:project_id>/snapshots/<int:snapshot_id>/records/",
        api.SnapshotRecordsView.as_view(),
        name="snapshot-records",
    ),
    path(
        "projects/<int:project_id>/snapshots/<int:snapshot_id>/files/<str:file_name>",
        api.SnapshotFileView.as_view(),
        name="snapshot-file",
    ),
    path(
        "projects/<int:project_id>/snapshot-downloads/",
        api.SnapshotDownloadListView.as_view(),
        name="snapshot-download-list",
    ),
]
