"""Reads of runs and models shared by the API and dashboards."""

from typing import Any

from labeling.models import Project
from rewardtrain.jobs import job_in_project
from rewardtrain.runs.models import ScoringJob, TrainingRun


def run_lineage(run: TrainingRun) -> dict[str, Any]:
    """Model ← run ← snapshot ← annotations ← guideline versions, as far as the records go; an RL run also
    names the reward model its policy was optimised against."""
    produced = getattr(run, "produced_model", None)
    snapshot = run.snapshot
    judge = run.reward_model
    return {
        "model": {"id": produced.pk, "name": produced.name, "path": produced.path} if produced else None,
        "run": {"id": run.pk, "kind": run.kind, "status": run.status, "hyperparams": run.hyperparams},
        "base_model": {"id": run.base_model_id, "name": run.base_model.name, "path": run.base_model.path},
        "reward_model": {"id": judge.pk, "name": judge.name, "path": judge.path} if judge else None,
        "snapshot": {
            "id": snapshot.pk,
            "version": snapshot.version,
            "kind": snapshot.kind,
            "params": snapshot.params,
            "manifest": snapshot.manifest,
        },
    }


def run_warnings(run: TrainingRun) -> list[str]:
    """What an admin should know about a run's setup; today: a snapshot with no validation records."""
    splits = (run.snapshot.manifest or {}).get("splits") or {}
    if "validation" in splits and not splits["validation"].get("records"):
        return [
            f"Snapshot v{run.snapshot.version} has no validation records: this run trains without validation "
            "(no validation loss or accuracy). Build a snapshot with a validation_fraction above 0 and more "
            "prompts to measure it."
        ]
    return []


def get_run(project: Project, run_id: int) -> TrainingRun:
    return job_in_project(
        TrainingRun.objects.select_related("snapshot", "base_model", "reward_model"), project, run_id, "Run"
    )


def get_scoring_job(project: Project, job_id: int) -> ScoringJob:
    return job_in_project(ScoringJob.objects.select_related("reward_model"), project, job_id, "Scoring job")
