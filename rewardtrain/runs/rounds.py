"""A project's rounds of the data loop, derived from the records it already keeps (no table of its own).

Round n is anchored on the project's n-th generation job:

    snapshot -> SFT run -> sampling model -> generation job -> ranking tasks -> rankings -> snapshot -> RM run

* the sampling model's lineage: the run that produced it (`RegisteredModel.produced_by`) and that run's
  snapshot (none for a model registered by hand);
* the job's ranking tasks (`GenerationItem.task`), how many have a ranking, how many rankings;
* the ranking snapshots (pairwise/K-wise) that hold this round's rankings: each snapshot goes to the newest
  round whose first ranking is older than the snapshot, i.e. the round whose rankings it was built to add;
  with the runs trained on them and the models those produced;
* the reward model in use when the round was ranked (the newest trained before its first ranking) and its
  agreement with the round's rankings: fresh human judgements it never saw.
"""

from typing import Any

from django.db.models import Count, Min

from labeling.models import Ranking
from rewardtrain.generation.models import GenerationItem, GenerationJob
from rewardtrain.runs.models import ModelKind, RegisteredModel, TrainingRun
from rewardtrain.runs.rm_agreement import agreement_on, trained_at
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus

RANKING_SNAPSHOTS = (SnapshotKind.PAIRWISE, SnapshotKind.KWISE)


def _model(model: RegisteredModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return {"id": model.pk, "name": model.name, "kind": model.kind}


def _run(run: TrainingRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    produced = getattr(run, "produced_model", None)
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "finished_at": run.finished_at,
        "model": _model(produced),
    }


def _snapshot(snapshot: Snapshot | None) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    return {
        "id": snapshot.pk,
        "version": snapshot.version,
        "kind": snapshot.kind,
        "created_at": snapshot.created_at,
    }


def _sampling_lineage(model: RegisteredModel) -> dict[str, Any]:
    run = model.produced_by
    return {"model": _model(model), "run": _run(run), "snapshot": _snapshot(run.snapshot if run else None)}


def project_rounds(project_id: int) -> list[dict[str, Any]]:
    """The project's rounds, oldest first."""
    jobs = list(
        GenerationJob.objects.filter(project_id=project_id)
        .select_related("model", "model__produced_by", "model__produced_by__snapshot")
        .order_by("created_at", "id")
    )
    task_ids_by_job: dict[int, set[int]] = {job.pk: set() for job in jobs}
    for job_id, task_id in (
        GenerationItem.objects.filter(job__project_id=project_id, task__isnull=False)
        .values_list("job_id", "task_id")
        .distinct()
    ):
        task_ids_by_job[job_id].add(task_id)
    reward_models = list(
        RegisteredModel.objects.filter(project_id=project_id, kind=ModelKind.RM).select_related("produced_by")
    )
    rounds = []
    for number, job in enumerate(jobs, 1):
        task_ids = task_ids_by_job[job.pk]
        rankings = Ranking.objects.filter(task_id__in=task_ids)
        stats = rankings.aggregate(n=Count("id"), first=Min("created_at"))
        ranked_tasks = rankings.values("task_id").distinct().count()
        in_use = [m for m in reward_models if stats["first"] and trained_at(m) < stats["first"]]
        judge = max(in_use, key=lambda m: (trained_at(m), m.pk), default=None)
        agreement = agreement_on(judge, rankings) if judge is not None else None
        rounds.append(
            {
                "number": number,
                "sampling": _sampling_lineage(job.model),
                "generation_job": {
                    "id": job.pk,
                    "status": job.status,
                    "created_at": job.created_at,
                    "finished_at": job.finished_at,
                    "prompts_total": job.prompts_total,
                    "prompts_done": job.prompts_done,
                },
                "tasks": len(task_ids),
                "ranked_tasks": ranked_tasks,
                "rankings": stats["n"],
                "first_ranking_at": stats["first"],
                "snapshots": [],
                "reward_model": None
                if judge is None
                else {
                    **_model(judge),
                    "accuracy": agreement.accuracy,
                    "pairs": agreement.pairs,
                    "unscored_pairs": agreement.unscored_pairs,
                },
            }
        )
    _attach_snapshots(project_id, rounds)
    return rounds


def _attach_snapshots(project_id: int, rounds: list[dict[str, Any]]) -> None:
    """Each ranking snapshot, with its runs, goes to the newest round ranked before the snapshot was made."""
    started = [(r["first_ranking_at"], r) for r in rounds if r["first_ranking_at"] is not None]
    if not started:
        return
    snapshots = Snapshot.objects.filter(
        project_id=project_id, kind__in=RANKING_SNAPSHOTS, status=SnapshotStatus.READY
    ).order_by("created_at", "id")
    runs = TrainingRun.objects.filter(snapshot__in=snapshots).select_related("produced_model").order_by("id")
    runs_by_snapshot: dict[int, list[TrainingRun]] = {}
    for run in runs:
        runs_by_snapshot.setdefault(run.snapshot_id, []).append(run)
    for snapshot in snapshots:
        before = [(first, r["number"], r) for first, r in started if first < snapshot.created_at]
        if before:
            max(before, key=lambda t: (t[0], t[1]))[2]["snapshots"].append(
                {**_snapshot(snapshot), "runs": [_run(r) for r in runs_by_snapshot.get(snapshot.pk, [])]}
            )
