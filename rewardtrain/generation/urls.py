from django.urls import path

from rewardtrain.generation import api

P = "projects/<int:project_id>/generation-jobs/"

urlpatterns = [
    path(P, api.GenerationJobListView.as_view(), name="generation-job-list"),
    path(P + "<int:job_id>/", api.GenerationJobDetailView.as_view(), name="generation-job-detail"),
    path(P + "<int:job_id>/tasks/", api.GenerationJobTasksView.as_view(), name="generation-job-tasks"),
    path(P + "<int:job_id>/cancel/", api.GenerationJobCancelView.as_view(), name="generation-job-cancel"),
    path(P + "<int:job_id>/resume/", api.GenerationJobResumeView.as_view(), name="generation-job-resume"),
    path(
        "projects/<int:project_id>/inference-endpoints/",
        api.InferenceEndpointListView.as_view(),
        name="inference-endpoint-list",
    ),
]
