from django.urls import path

from rewardtrain.runs import api

urlpatterns = [
    path("projects/<int:project_id>/models/", api.RegisteredModelListView.as_view(), name="model-list"),
    path("projects/<int:project_id>/runs/", api.TrainingRunListView.as_view(), name="run-list"),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/", api.TrainingRunDetailView.as_view(), name="run-detail"
    ),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/cancel/",
        api.TrainingRunCancelView.as_view(),
        name="run-cancel",
    ),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/lineage/",
        api.TrainingRunLineageView.as_view(),
        name="run-lineage",
    ),
]
