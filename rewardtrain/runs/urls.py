from django.urls import path

from rewardtrain.runs import api

urlpatterns = [
    path("projects/<int:project_id>/models/", api.RegisteredModelListView.as_view(), name="model-list"),
    path("projects/<int:project_id>/model-roots/", api.ModelRootListView.as_view(), name="model-root-list"),
    path("projects/<int:project_id>/runs/", api.TrainingRunListView.as_view(), name="run-list"),
    path("projects/<int:project_id>/run-options/", api.RunOptionsView.as_view(), name="run-options"),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/", api.TrainingRunDetailView.as_view(), name="run-detail"
    ),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/cancel/",
        api.TrainingRunCancelView.as_view(),
        name="run-cancel",
    ),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/samples/",
        api.TrainingRunSamplesView.as_view(),
        name="run-samples",
    ),
    path(
        "projects/<int:project_id>/runs/<int:run_id>/lineage/",
        api.TrainingRunLineageView.as_view(),
        name="run-lineage",
    ),
    path(
        "projects/<int:project_id>/scoring-jobs/",
        api.ScoringJobListView.as_view(),
        name="scoring-job-list",
    ),
    path(
        "projects/<int:project_id>/scoring-jobs/<int:job_id>/",
        api.ScoringJobDetailView.as_view(),
        name="scoring-job-detail",
    ),
    path(
        "projects/<int:project_id>/scoring-jobs/<int:job_id>/cancel/",
        api.ScoringJobCancelView.as_view(),
        name="scoring-job-cancel",
    ),
    path("projects/<int:project_id>/scores/", api.CandidateScoreListView.as_view(), name="score-list"),
    path("projects/<int:project_id>/rm-agreement/", api.RMAgreementView.as_view(), name="rm-agreement"),
    path("projects/<int:project_id>/rounds/", api.RoundsView.as_view(), name="rounds"),
    path("projects/<int:project_id>/win-rates/", api.WinRatesView.as_view(), name="win-rates"),
]
