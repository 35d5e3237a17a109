from django.urls import path

from rewardtrain.api import suggestions, views

urlpatterns = [
    path(
        "assignments/<int:assignment_id>/suggestion/",
        suggestions.SuggestionView.as_view(),
        name="assignment-suggestion",
    ),
    path("projects/<int:project_id>/snapshots/", views.SnapshotListView.as_view(), name="snapshot-list"),
    path(
        "projects/<int:project_id>/snapshots/<int:snapshot_id>/",
        views.SnapshotDetailView.as_view(),
        name="snapshot-detail",
    ),
    path(
        "projects/<int:project_id>/snapshots/<int:snapshot_id>/records/",
        views.SnapshotRecordsView.as_view(),
        name="snapshot-records",
    ),
    path(
        "projects/<int:project_id>/snapshots/<int:snapshot_id>/files/<str:file_name>",
        views.SnapshotFileView.as_view(),
        name="snapshot-file",
    ),
    path(
        "projects/<int:project_id>/snapshot-downloads/",
        views.SnapshotDownloadListView.as_view(),
        name="snapshot-download-list",
    ),
]
