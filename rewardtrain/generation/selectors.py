"""Reads of generation jobs shared by the API views."""

from django.db.models import QuerySet

from labeling.models import Project
from rewardtrain.generation.models import GenerationJob
from rewardtrain.jobs import job_in_project


def generation_jobs_for_project(project: Project) -> QuerySet[GenerationJob]:
    return GenerationJob.objects.filter(project=project).select_related("model", "reward_model")


def get_generation_job(project: Project, job_id: int) -> GenerationJob:
    rows = GenerationJob.objects.select_related("model", "reward_model")
    return job_in_project(rows, project, job_id, "Generation job")
