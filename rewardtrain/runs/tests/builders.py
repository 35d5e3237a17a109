"""Records of a project's loop written straight to the tables, with chosen timestamps (for rounds and agreement)."""

from datetime import timedelta

from django.utils import timezone

from rewardtrain.generation.models import GenerationItem, GenerationJob
from rewardtrain.runs.models import (
    CandidateScore,
    ModelKind,
    RegisteredModel,
    RunKind,
    RunStatus,
    TrainingRun,
)
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus
from rewardtrain.tests.helpers import candidate_ids, rank

T0 = timezone.now() - timedelta(days=30)


def at(days: float):
    return T0 + timedelta(days=days)


def score(model, ids, values):
    CandidateScore.objects.bulk_create(
        [
            CandidateScore(candidate_id=c, reward_model=model, score=s)
            for c, s in zip(ids, values, strict=True)
        ]
    )


def finished_run(project, kind, snapshot, base, finished):
    run = TrainingRun.objects.create(
        project=project, kind=kind, snapshot=snapshot, base_model=base, status=RunStatus.SUCCEEDED
    )
    TrainingRun.objects.filter(pk=run.pk).update(created_at=finished, finished_at=finished)
    run.refresh_from_db()
    return run


def model(project, name, kind, run=None, created=None):
    model = RegisteredModel.objects.create(
        project=project, name=name, kind=kind, path="org/" + name, produced_by=run
    )
    if created is not None:
        RegisteredModel.objects.filter(pk=model.pk).update(created_at=created)
        model.refresh_from_db()
    return model


def snapshot(project, version, kind, created):
    snap = Snapshot.objects.create(project=project, version=version, kind=kind, status=SnapshotStatus.READY)
    Snapshot.objects.filter(pk=snap.pk).update(created_at=created)
    snap.refresh_from_db()
    return snap


def generation(project, model, tasks, created):
    job = GenerationJob.objects.create(
        project=project, model=model, status=RunStatus.SUCCEEDED, prompts_total=len(tasks)
    )
    GenerationJob.objects.filter(pk=job.pk).update(created_at=created)
    for task in tasks:
        GenerationItem.objects.bulk_create(
            [
                GenerationItem(job=job, prompt=task.prompt, candidate_id=c, task=task, sample_index=i)
                for i, c in enumerate(candidate_ids(task))
            ]
        )
    return job


def two_rounds(project, tasks, labeler) -> dict:
    """Round 1: sft-run-1 samples tasks 0-2, 0 and 1 get ranked, snapshot v2 -> rm-run-2 and dpo-run-3.
    Round 2: tasks 3-4, task 3 ranked; rm-run-2 scored its answers and agrees with 5 of its 6 pairs."""
    base = model(project, "base", ModelKind.BASE, created=at(0))
    sft_snap = snapshot(project, 1, SnapshotKind.SFT, at(0.5))
    sft_run = finished_run(project, RunKind.SFT, sft_snap, base, at(1))
    sft = model(project, "sft-run-1", ModelKind.SFT, run=sft_run, created=at(1))
    job1 = generation(project, sft, tasks[:3], at(2))
    for task in tasks[:2]:
        ids = candidate_ids(task)
        rank(task, labeler, [[ids[0]], [ids[1]], [ids[2], ids[3]]], at=at(3))
    rm_snap = snapshot(project, 2, SnapshotKind.PAIRWISE, at(4))
    rm_run = finished_run(project, RunKind.RM, rm_snap, sft, at(5))
    rm = model(project, "rm-run-2", ModelKind.RM, run=rm_run, created=at(5))
    dpo_run = finished_run(project, RunKind.DPO, rm_snap, sft, at(5.5))
    model(project, "dpo-run-3", ModelKind.POLICY, run=dpo_run, created=at(5.5))

    job2 = generation(project, sft, tasks[3:], at(6))
    ids = candidate_ids(tasks[3])
    score(rm, ids, [0.0, 1.0, 2.0, 3.0])
    rank(tasks[3], labeler, [[ids[3]], [ids[2]], [ids[0]], [ids[1]]], at=at(7))  # 6 pairs, 5 agree (0 < 1)

    return {"sft_run": sft_run, "jobs": [job1, job2], "rm": rm}
