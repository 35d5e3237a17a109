"""Generation jobs: create, cancel, resume, and execute on a worker (the `gpu` queue).

A job's prompts are fixed when it is created. The worker claims the job's row (`rewardtrain.jobs.claim_job`),
samples a batch of prompts at a time, and stores each prompt in one transaction: its K candidates, its ranking
task and the job's items. A resumed job skips the prompts that already have items, and the unique
(job, prompt, sample index) constraint keeps a second worker from storing the same prompt twice.

The `openai` backend names an endpoint the operator configured (`rewardtrain/generation/endpoints.py`); the
worker resolves that name from its own settings and never calls anything a project admin typed.
"""

import os
import random
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from annotate.jobs import enqueue, enqueue_on_commit
from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import Candidate, CandidateSource, Project, Prompt, Task, TaskCandidate, TaskKind
from labeling.models.annotations import Demonstration, ReviewStatus
from labeling.services.errors import FieldError, conflict, invalid
from rewardtrain.generation.endpoints import Endpoint, configured_endpoints, endpoint_get
from rewardtrain.generation.models import Backend, GenerationItem, GenerationJob, PromptSelection
from rewardtrain.jobs import claim_job, job_failure, job_keepalive, request_cancel, stale_job_ids
from rewardtrain.runs.artifacts import registered_model_locate
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunStatus
from rewardtrain.training.generate import SamplingSettings, collect_distinct, local_backend, rank_by_reward
from rewardtrain.training.openai_client import EndpointConfig, EndpointError, OpenAIClient

# name: (type, default, min, max); None bounds are open.
SETTINGS: dict[str, tuple[type, Any, float | None, float | None]] = {
    "k": (int, None, 2, 9),
    "temperature": (float, 1.0, 0.0, 2.0),
    "top_p": (float, 1.0, 0.0, 1.0),
    "max_new_tokens": (int, 256, 1, 4096),
    "seed": (int, 0, 0, None),
    "best_of_n": (int, 0, 0, 64),
    "batch_size": (int, 8, 1, 64),
    "concurrency": (int, 4, 1, 64),
    "max_rounds": (int, 6, 1, 20),
    "max_retries": (int, 4, 0, 10),
}
SAMPLING_KINDS = {ModelKind.BASE, ModelKind.SFT, ModelKind.POLICY}
# Stored order (candidate ids, task positions) must not follow the reward order nor be computable from public ids.
_RANDOM = random.SystemRandom()
# (prompt conversations) -> per prompt, K (text, reward or None) pairs, best first under best-of-N
Sampler = Callable[[list[list[dict[str, str]]]], list[list[tuple[str, float | None]]]]


def _settings(project: Project, given: dict[str, Any]) -> dict[str, Any]:
    """Sampling settings checked and completed with defaults; K defaults to (and must equal) the project's K."""
    errors, clean = [], {}
    for name in given:
        if name not in SETTINGS:
            errors.append(FieldError(f"unknown setting; known: {', '.join(SETTINGS)}", f"settings.{name}"))
    for name, (kind, default, lo, hi) in SETTINGS.items():
        value = given.get(name, project.k_answers if name == "k" else default)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind is int and ok and value != int(value):
            ok = False
        if not ok:
            errors.append(
                FieldError(f"must be {'an integer' if kind is int else 'a number'}", f"settings.{name}")
            )
            continue
        value = kind(value)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            errors.append(FieldError(f"must be {bounds}", f"settings.{name}"))
        clean[name] = value
    if errors:
        raise invalid("Invalid sampling settings", *errors)
    if clean["k"] != project.k_answers:
        errors.append(
            FieldError(
                f"this project ranks {project.k_answers} answers per prompt; a job must sample k={project.k_answers}",
                "settings.k",
            )
        )
    if clean["temperature"] <= 0:
        errors.append(
            FieldError("must be above 0: greedy decoding gives K identical answers", "settings.temperature")
        )
    if clean["top_p"] <= 0:
        errors.append(FieldError("must be above 0", "settings.top_p"))
    if clean["best_of_n"] and clean["best_of_n"] < clean["k"]:
        errors.append(FieldError(f"must be 0 (off) or at least k={clean['k']}", "settings.best_of_n"))
    if errors:
        raise invalid("Invalid sampling settings", *errors)
    return clean


def _select_prompts(project: Project, mode: str, prompt_ids: list[int], limit: int | None) -> list[int]:
    prompts = Prompt.objects.filter(project=project)
    if mode == PromptSelection.ACCEPTED_DEMONSTRATION:
        accepted = Demonstration.objects.filter(
            task__project=project, review_status=ReviewStatus.ACCEPTED
        ).values("task__prompt_id")
        prompts = prompts.filter(pk__in=accepted)
    elif mode == PromptSelection.NO_RANKING_TASK:
        prompts = prompts.exclude(
            pk__in=Task.objects.filter(project=project, kind=TaskKind.RANKING).values("prompt_id")
        )
    elif mode == PromptSelection.IDS:
        if not prompt_ids:
            raise invalid("Invalid prompt selection", FieldError("list at least one prompt id", "prompt_ids"))
        found = set(prompts.filter(pk__in=prompt_ids).values_list("pk", flat=True))
        missing = [pid for pid in prompt_ids if pid not in found]
        if missing:
            shown = ", ".join(map(str, missing[:20]))
            raise invalid(
                "Invalid prompt selection", FieldError(f"no prompts {shown} in this project", "prompt_ids")
            )
        prompts = prompts.filter(pk__in=prompt_ids)
    else:
        raise invalid(
            "Invalid prompt selection",
            FieldError(f"must be one of {', '.join(PromptSelection.values)}", "prompts"),
        )
    ids = list(prompts.order_by("pk").values_list("pk", flat=True).distinct())
    if limit is not None:
        ids = ids[:limit]
    if not ids:
        raise invalid(
            "Invalid prompt selection", FieldError(f"no prompt of this project matches '{mode}'", "prompts")
        )
    return ids


def _project_model(project: Project, model_id: int | None, field: str, kinds: set[str]) -> RegisteredModel:
    model = RegisteredModel.objects.filter(pk=model_id, project=project).first()
    if model is None:
        raise invalid(
            "Invalid generation job", FieldError("no registered model with this id in this project", field)
        )
    if model.kind not in kinds:
        allowed = " or ".join(sorted(kinds))
        raise invalid(
            "Invalid generation job",
            FieldError(f"'{model.name}' is a {model.kind} model, not {allowed}", field),
        )
    return model


def _endpoint(backend: str, name: str, model_name: str) -> tuple[Endpoint | None, list[FieldError]]:
    """The configured endpoint a job names, checked with its model; errors name the field."""
    if backend not in Backend.values:
        return None, [FieldError(f"must be one of {', '.join(Backend.values)}", "backend")]
    if backend == Backend.LOCAL:
        if name or model_name:
            return None, [
                FieldError(
                    "only an openai-backend job names an endpoint", "endpoint" if name else "endpoint_model"
                )
            ]
        return None, []
    configured = configured_endpoints()
    if not name:
        known = ", ".join(configured) or "none: the operator has configured no inference endpoint"
        return None, [FieldError(f"name an inference endpoint; configured: {known}", "endpoint")]
    endpoint = configured.get(name)
    if endpoint is None:
        known = ", ".join(configured) or "none"
        return None, [FieldError(f"no inference endpoint named '{name}'; configured: {known}", "endpoint")]
    if model_name and model_name not in endpoint.models:
        allowed = ", ".join(endpoint.models)
        return None, [
            FieldError(
                f"endpoint '{name}' does not serve '{model_name}'; allowed: {allowed}", "endpoint_model"
            )
        ]
    return endpoint, []


@transaction.atomic
def generation_job_create(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    model_id: int,
    settings: dict[str, Any] | None = None,
    prompts: str = PromptSelection.ACCEPTED_DEMONSTRATION,
    prompt_ids: list[int] | None = None,
    limit: int | None = None,
    backend: str = Backend.LOCAL,
    endpoint: str = "",
    endpoint_model: str = "",
    reward_model_id: int | None = None,
) -> GenerationJob:
    """Queue a job on the `gpu` queue. An `openai` job names a configured endpoint and one of its models (default:
    its first); nothing about how to reach it (URL, key) is stored with the job."""
    configured, errors = _endpoint(backend, endpoint, endpoint_model)
    if errors:
        raise invalid("Invalid generation job", *errors)
    model = _project_model(project, model_id, "model", SAMPLING_KINDS)
    clean = _settings(project, settings or {})
    reward_model = None
    if clean["best_of_n"]:
        if reward_model_id is None:
            raise invalid(
                "Invalid generation job", FieldError("best-of-N needs a reward model", "reward_model")
            )
        reward_model = _project_model(project, reward_model_id, "reward_model", {ModelKind.RM})
    ids = _select_prompts(project, prompts, prompt_ids or [], limit)
    job = GenerationJob.objects.create(
        project=project,
        model=model,
        backend=backend,
        endpoint=configured.name if configured else "",
        endpoint_model=(endpoint_model or configured.default_model) if configured else "",
        settings=clean,
        reward_model=reward_model,
        selection={"prompts": prompts, "prompt_ids": prompt_ids or [], "limit": limit},
        prompt_ids=ids,
        prompts_total=len(ids),
        created_by=user,
    )
    audit_record(
        AuditAction.GENERATION_CREATE,
        project=project,
        actor=user,
        target=job,
        details={
            "model": model.pk,
            "backend": backend,
            "endpoint": job.endpoint,
            "prompts": len(ids),
            "settings": clean,
        },
    )
    _enqueue(job)
    return job


def _enqueue(job: GenerationJob) -> None:
    # A broker that is down does not fail the request: the job stays queued and is sent again later.
    enqueue_on_commit("rewardtrain.tasks.gpu_generate", job.pk)


@transaction.atomic
def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """Stop a job: a queued one at once, a running one after its current batch."""
    job = request_cancel(GenerationJob, job.pk, "Generation job")
    audit_record(
        AuditAction.GENERATION_CANCEL, project=job.project, target=job, details={"status": job.status}
    )
    return job


@transaction.atomic
def generation_job_resume(*, job: GenerationJob) -> GenerationJob:
    """Queue a cancelled or failed job again; it carries on with the prompts it has not stored yet."""
    job = GenerationJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (RunStatus.CANCELLED, RunStatus.FAILED):
        raise conflict(
            f"Generation job {job.pk} is {job.status}; only a cancelled or failed job can be resumed."
        )
    job.status, job.cancel_requested, job.finished_at = RunStatus.QUEUED, False, None
    job.error = job.error_detail = ""
    job.save(update_fields=["status", "cancel_requested", "finished_at", "error", "error_detail"])
    audit_record(AuditAction.GENERATION_RESUME, project=job.project, target=job)
    _enqueue(job)
    return job


def _sampling_record(job: GenerationJob) -> dict[str, Any]:
    """What a candidate keeps of how it was made."""
    keys = ("temperature", "top_p", "max_new_tokens", "seed", "best_of_n")
    record = {k: job.settings[k] for k in keys if k in job.settings}
    record.update(job=job.pk, backend=job.backend)
    if job.backend == Backend.OPENAI:
        record["endpoint"], record["endpoint_model"] = job.endpoint, job.endpoint_model
    if job.reward_model_id:
        record["reward_model"] = job.reward_model.name
    return record


def _store_prompt(job: GenerationJob, prompt: Prompt, answers: list[tuple[str, float | None]]) -> bool:
    """The prompt's candidates, its ranking task and the job's items, in one transaction. False if already stored."""
    project = job.project
    base = _sampling_record(job)
    # Best-of-N ranks the answers best first: stored in that order, candidate ids would give the ranking away.
    answers = _RANDOM.sample(answers, len(answers))
    try:
        with transaction.atomic():
            if GenerationItem.objects.filter(job=job, prompt=prompt).exists():
                return False
            candidates = Candidate.objects.bulk_create(
                [
                    Candidate(
                        prompt=prompt,
                        text=text,
                        source=CandidateSource.MODEL,
                        model_name=job.model.name,
                        sampling={
                            **base,
                            "sample_index": i,
                            **({"reward": reward} if reward is not None else {}),
                        },
                    )
                    for i, (text, reward) in enumerate(answers)
                ]
            )
            task = Task.objects.create(
                project=project, kind=TaskKind.RANKING, prompt=prompt, required_annotations=project.redundancy
            )
            # Already in a random order; labelers each see their own (labeling/services/blind.py).
            TaskCandidate.objects.bulk_create(
                [TaskCandidate(task=task, candidate=c, position=i) for i, c in enumerate(candidates)]
            )
            GenerationItem.objects.bulk_create(
                [
                    GenerationItem(
                        job=job, prompt=prompt, candidate=c, task=task, sample_index=i, reward=reward
                    )
                    for i, (c, (_, reward)) in enumerate(zip(candidates, answers, strict=True))
                ]
            )
            GenerationJob.objects.filter(pk=job.pk).update(
                prompts_done=F("prompts_done") + 1, heartbeat_at=timezone.now()
            )
    except IntegrityError:
        return False  # another worker stored this prompt at the same moment
    return True


def _skip_prompt(job: GenerationJob, prompt_id: int, reason: str) -> None:
    with transaction.atomic():
        row = GenerationJob.objects.select_for_update().get(pk=job.pk)
        row.skipped = [*row.skipped, {"prompt": prompt_id, "reason": reason}]
        row.prompts_skipped += 1
        row.save(update_fields=["skipped", "prompts_skipped"])


def _sampler(job: GenerationJob) -> Sampler:
    """Load what the job samples with (once per execution) and return its per-batch sampling function."""
    s = job.settings
    sampling = SamplingSettings(
        temperature=s["temperature"], top_p=s["top_p"], max_new_tokens=s["max_new_tokens"], seed=s["seed"]
    )
    draw_n = s["best_of_n"] or s["k"]
    if job.backend == Backend.OPENAI:
        client = OpenAIClient(_endpoint_config(job, s))

        def make_backend(convs):
            return client.backend(convs, sampling)
    else:
        from rewardtrain.training.modeling import load_model_and_tokenizer  # torch: workers only

        device = _device()
        located = registered_model_locate(job.model)  # checked again now: the root may have changed since
        model, tokenizer = load_model_and_tokenizer(located.path, gguf_file=located.gguf_file, device=device)

        def make_backend(convs):
            return local_backend(model, tokenizer, convs, sampling, batch_size=s["batch_size"])

    reward = None
    if s["best_of_n"]:
        from rewardtrain.training.modeling import load_reward_model  # torch: workers only

        reward = load_reward_model(registered_model_locate(job.reward_model).path, device=_device())

    def sample(convs: list[list[dict[str, str]]]) -> list[list[tuple[str, float | None]]]:
        drawn = collect_distinct(make_backend(convs), len(convs), draw_n, s["max_rounds"])
        texts = [d.answers for d in drawn]
        if reward is None:
            return [[(t, None) for t in row] for row in texts]
        ranked = rank_by_reward(reward[0], reward[1], convs, texts)
        return [[(x.text, x.reward) for x in row[: s["k"]]] for row in ranked]

    return sample


class JobFailed(Exception):
    """A failure whose message is already the one line to show the job's admins."""


def _endpoint_config(job: GenerationJob, s: dict[str, Any]):
    """How to reach the job's endpoint, from this worker's own settings: the base URL and the one variable the
    operator named for its key. Nothing here comes from the job but the endpoint's name and model."""
    endpoint = endpoint_get(job.endpoint) if job.endpoint else None
    if endpoint is None:
        raise JobFailed(f"endpoint '{job.endpoint}' is not configured on this worker")
    if job.endpoint_model not in endpoint.models:
        raise JobFailed(f"endpoint '{endpoint.name}' no longer serves '{job.endpoint_model}'")
    api_key = ""
    if endpoint.api_key_env:
        api_key = os.environ.get(endpoint.api_key_env, "")
        if not api_key:
            raise JobFailed(f"endpoint '{endpoint.name}': its API key is not set on this worker")
    return EndpointConfig(
        base_url=endpoint.base_url,
        model=job.endpoint_model,
        api=endpoint.api,
        api_key=api_key,
        concurrency=s["concurrency"],
        max_retries=s["max_retries"],
        timeout_s=endpoint.timeout,
    )


def _device() -> str:
    import torch  # workers only

    return "cuda" if torch.cuda.is_available() else "cpu"


def _finish(job: GenerationJob, status: str, **fields: str) -> GenerationJob:
    GenerationJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now(), **fields)
    return GenerationJob.objects.get(pk=job.pk)


def generation_job_execute(*, job_id: int, worker: str) -> GenerationJob | None:
    """Run a claimed job to the end, or until cancelled; each prompt is stored as soon as it is sampled."""
    job = claim_job(GenerationJob, job_id, worker)
    if job is None:
        return None
    try:
        with job_keepalive(GenerationJob, job.pk):
            done = set(GenerationItem.objects.filter(job=job).values_list("prompt_id", flat=True))
            skipped = {entry["prompt"] for entry in job.skipped}
            todo = [pid for pid in job.prompt_ids if pid not in done and pid not in skipped]
            prompts = Prompt.objects.in_bulk(todo)
            for pid in todo:
                if pid not in prompts:
                    _skip_prompt(job, pid, "the prompt was deleted")
            todo = [pid for pid in todo if pid in prompts]
            sample = _sampler(job) if todo else None
            k, batch = job.settings["k"], job.settings["batch_size"]
            for start in range(0, len(todo), batch):
                if GenerationJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                    return _finish(job, RunStatus.CANCELLED)
                rows = [prompts[pid] for pid in todo[start : start + batch]]
                answers = sample([p.messages for p in rows])
                for prompt, got in zip(rows, answers, strict=True):
                    if len(got) < k:
                        _skip_prompt(
                            job, prompt.pk, f"only {len(got)} distinct non-empty answers, {k} needed"
                        )
                    else:
                        _store_prompt(job, prompt, got)
                GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    except Exception as e:
        return _finish(job, RunStatus.FAILED, **_failure(job, e))
    return _finish(job, RunStatus.SUCCEEDED)


def _failure(job: GenerationJob, exc: Exception) -> dict[str, str]:
    """`error` (one line: the endpoint's name, the HTTP status, a short reason) and `error_detail` (traceback)."""
    what = f"generation job {job.pk}"
    if isinstance(exc, JobFailed):
        return job_failure(exc, what, summary=str(exc))
    if job.backend == Backend.OPENAI and isinstance(exc, EndpointError):
        return job_failure(
            exc, f"{what} (endpoint '{job.endpoint}')", summary=f"endpoint '{job.endpoint}': {exc}"
        )
    return job_failure(exc, what)


def generation_jobs_requeue_stale() -> list[int]:
    """Queue again the running jobs whose worker stopped reporting (a dead host never rejects its message)."""
    return [
        job_id for job_id in stale_job_ids(GenerationJob) if enqueue("rewardtrain.tasks.gpu_generate", job_id)
    ]
