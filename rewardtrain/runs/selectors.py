"""Reads of runs and models shared by the API and dashboards."""

from typing import Any

from labeling.models import Project
from rewardtrain.jobs import job_in_project
from rewardtrain.runs.models import TrainingRun


def run_lineage(run: TrainingRun) -> dict[str, Any]:
    """Model ← run ← snapshot ← annotations ← guideline versions, as far as the records go."""
    produced = getattr(run, "produced_model", None)
    snapshot = run.snapshot
    return {
        "model": {"id": produced.pk, "name": produced.name, "path": produced.path} if produced else None,
        "run": {"id": run.pk, "kind": run.kind, "status": run.status, "hyperparams": run.hyperparams},
        "base_model": {"id": run.base_model_id, "name": run.base_model.name, "path": run.base_model.path},
        "snapshot": {
            "id": snapshot.pk,
            "version": snapshot.version,
            "kind": snapshot.kind,
            "params": snapshot.params,
            "manifest": snapshot.manifest,
        },
    }


def get_run(project: Project, run_id: int) -> TrainingRun:
    return job_in_project(
        TrainingRun.objects.select_related("snapshot", "base_model"), project, run_id, "Run"
    )
