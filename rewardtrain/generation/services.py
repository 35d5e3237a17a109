"""Generation jobs: create, cancel, resume, and execute on a worker (the `gpu` queue).

A job's prompts are fixed when it is created. The worker claims the job's row (`rewardtrain.jobs.claim_job`),
samples a batch of prompts at a time, and stores each prompt in one transaction: its K candidates, its ranking
task and the job's items. A resumed job skips the prompts that already have items, and the unique
(job, prompt, sample index) constraint keeps a second worker from storing the same prompt twice.

A job samples from one model (all K answers) or from several (`GenerationSource`: each model writes its share of
the K answers). The answers of a prompt are stored in a random order (SystemRandom), so neither the candidate ids
nor the task positions tell which model wrote which; labelers never see a model's name (labeling/services/blind.py).
Each candidate records its model (`model_name`, and the registered model's id in `sampling["model"]`) and
whether it was cut at `max_new_tokens` (`sampling["truncated"]`).

The `openai` backend names an endpoint the operator configured (`rewardtrain/generation/endpoints.py`); the
worker resolves that name from its own settings and never calls anything a project admin typed.
"""

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
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
from labeling.services.errors import FieldError, ValidationFailed, conflict, invalid
from rewardtrain.generation.endpoints import Endpoint, configured_endpoints, endpoint_get
from rewardtrain.generation.models import (
    Backend,
    GenerationItem,
    GenerationJob,
    GenerationSource,
    PromptSelection,
)
from rewardtrain.jobs import claim_job, job_failure, job_keepalive, request_cancel, stale_job_ids
from rewardtrain.runs.artifacts import registered_model_locate
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunStatus
from rewardtrain.training.generate import (
    Distinct,
    SamplingSettings,
    collect_distinct,
    local_backend,
    rank_by_reward,
)
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


@dataclass(frozen=True)
class Answer:
    """One answer to store: its text, the model that wrote it, its reward under best-of-N, and whether it was cut
    at the token limit."""

    text: str
    source: GenerationSource
    reward: float | None = None
    truncated: bool = False


# (prompt conversations) -> per prompt, its answers (each source's share, or fewer when a source fell short)
Sampler = Callable[[list[list[dict[str, str]]]], list[list[Answer]]]


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


MAX_SOURCES = 9  # a model writes at least one of at most 9 answers
SOURCE_SEED_STRIDE = 7_919  # the n-th model of a job samples with seed + n * stride


def _sources(
    project: Project,
    model_id: int | None,
    mix: list[Any] | None,
    k: int,
    endpoint: Endpoint | None,
    endpoint_model: str,
) -> list[tuple[RegisteredModel, int, str]]:
    """(model, answers, endpoint model) per model the job samples from; the answers sum to K.

    Either `model_id` (one model writes all K answers: the single-model form) or `mix`: a list of
    {"model": id, "answers": n, "endpoint_model": optional} — not both."""
    served = (endpoint_model or endpoint.default_model) if endpoint else ""
    if (model_id is None) == (mix is None):
        why = (
            "give either model or models, not both"
            if model_id is not None
            else "name the model to sample from"
        )
        raise invalid("Invalid generation job", FieldError(why, "models" if mix is not None else "model"))
    if mix is None:
        return [(_project_model(project, model_id, "model", SAMPLING_KINDS), k, served)]
    if not isinstance(mix, list) or not 1 <= len(mix) <= MAX_SOURCES:
        raise invalid(
            "Invalid generation job",
            FieldError(f"must list 1 to {MAX_SOURCES} models, each with its number of answers", "models"),
        )
    errors, out, seen = [], [], set()
    for i, entry in enumerate(mix):
        at = f"models[{i}]"
        if not isinstance(entry, dict):
            errors.append(FieldError('must be an object like {"model": 3, "answers": 2}', at))
            continue
        unknown = sorted(set(entry) - {"model", "answers", "endpoint_model"})
        if unknown:
            errors.append(
                FieldError("unknown field; known: model, answers, endpoint_model", f"{at}.{unknown[0]}")
            )
        model, answers, served_here = (
            entry.get("model"),
            entry.get("answers"),
            entry.get("endpoint_model", ""),
        )
        if not isinstance(model, int) or isinstance(model, bool):
            errors.append(FieldError("must be the id of a registered model", f"{at}.model"))
        if not isinstance(answers, int) or isinstance(answers, bool) or answers < 1:
            errors.append(FieldError("must be a whole number of answers, at least 1", f"{at}.answers"))
        if not isinstance(served_here, str):
            errors.append(FieldError("must be one of the endpoint's models", f"{at}.endpoint_model"))
            served_here = ""
        if served_here and endpoint is None:
            errors.append(
                FieldError("only an openai-backend job names an endpoint model", f"{at}.endpoint_model")
            )
        elif served_here and served_here not in endpoint.models:
            allowed = ", ".join(endpoint.models)
            errors.append(
                FieldError(
                    f"endpoint '{endpoint.name}' does not serve '{served_here}'; allowed: {allowed}",
                    f"{at}.endpoint_model",
                )
            )
        if errors:
            continue
        if model in seen:
            errors.append(
                FieldError("this model is listed twice: give it more answers instead", f"{at}.model")
            )
            continue
        seen.add(model)
        try:
            registered = _project_model(project, model, f"{at}.model", SAMPLING_KINDS)
        except ValidationFailed as e:  # gathered with the others, each named by its field
            errors.extend(e.errors)
            continue
        out.append((registered, answers, (served_here or served) if endpoint else ""))
    if not errors and sum(n for _, n, _ in out) != k:
        total = sum(n for _, n, _ in out)
        errors.append(
            FieldError(
                f"the answers add up to {total}; this project ranks k={k} answers per prompt", "models"
            )
        )
    if errors:
        raise invalid("Invalid generation job", *errors)
    return out


@transaction.atomic
def generation_job_create(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    model_id: int | None = None,
    models: list[Any] | None = None,
    settings: dict[str, Any] | None = None,
    prompts: str = PromptSelection.ACCEPTED_DEMONSTRATION,
    prompt_ids: list[int] | None = None,
    limit: int | None = None,
    backend: str = Backend.LOCAL,
    endpoint: str = "",
    endpoint_model: str = "",
    reward_model_id: int | None = None,
) -> GenerationJob:
    """Queue a job on the `gpu` queue. It samples from one model (`model_id`) or from several (`models`: each
    {"model": id, "answers": n}, the answers adding up to the project's K). An `openai` job names a configured
    endpoint and one of its models (default: its first; each entry of `models` may name its own); nothing about
    how to reach it (URL, key) is stored with the job."""
    configured, errors = _endpoint(backend, endpoint, endpoint_model)
    if errors:
        raise invalid("Invalid generation job", *errors)
    clean = _settings(project, settings or {})
    sources = _sources(project, model_id, models, clean["k"], configured, endpoint_model)
    reward_model = None
    if clean["best_of_n"]:
        if reward_model_id is None:
            raise invalid(
                "Invalid generation job", FieldError("best-of-N needs a reward model", "reward_model")
            )
        reward_model = _project_model(project, reward_model_id, "reward_model", {ModelKind.RM})
    ids = _select_prompts(project, prompts, prompt_ids or [], limit)
    first, _, first_served = sources[0]
    job = GenerationJob.objects.create(
        project=project,
        model=first,
        backend=backend,
        endpoint=configured.name if configured else "",
        endpoint_model=first_served,
        settings=clean,
        reward_model=reward_model,
        selection={"prompts": prompts, "prompt_ids": prompt_ids or [], "limit": limit},
        prompt_ids=ids,
        prompts_total=len(ids),
        created_by=user,
    )
    GenerationSource.objects.bulk_create(
        GenerationSource(job=job, model=m, answers=n, endpoint_model=served, position=i)
        for i, (m, n, served) in enumerate(sources)
    )
    audit_record(
        AuditAction.GENERATION_CREATE,
        project=project,
        actor=user,
        target=job,
        details={
            "model": first.pk,
            "models": [{"model": m.pk, "answers": n} for m, n, _ in sources],
            "backend": backend,
            "endpoint": job.endpoint,
            "prompts": len(ids),
            "settings": clean,
        },
    )
    _enqueue(job)
    return job


def job_sources(job: GenerationJob) -> list[GenerationSource]:
    """The models a job samples from; a job made without sources (by hand, in a test) samples K from its model."""
    rows = list(job.sources.select_related("model").order_by("position"))
    if rows:
        return rows
    return [
        GenerationSource(
            job=job, model=job.model, answers=job.settings.get("k", 0), endpoint_model=job.endpoint_model
        )
    ]


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


def _sampling_record(job: GenerationJob, source: GenerationSource) -> dict[str, Any]:
    """What a candidate keeps of how it was made (admins only: never shown to labelers)."""
    keys = ("temperature", "top_p", "max_new_tokens", "seed", "best_of_n")
    record = {k: job.settings[k] for k in keys if k in job.settings}
    record.update(job=job.pk, backend=job.backend, model=source.model_id)
    if job.backend == Backend.OPENAI:
        record["endpoint"], record["endpoint_model"] = (
            job.endpoint,
            source.endpoint_model or job.endpoint_model,
        )
    if job.reward_model_id:
        record["reward_model"] = job.reward_model.name
    return record


def _store_prompt(job: GenerationJob, prompt: Prompt, answers: list[Answer]) -> bool:
    """The prompt's candidates, its ranking task and the job's items, in one transaction. False if already stored."""
    project = job.project
    # Best-of-N ranks the answers best first, and a mixed job samples model by model: stored in that order,
    # candidate ids would give the ranking or the model away.
    answers = _RANDOM.sample(answers, len(answers))
    try:
        with transaction.atomic():
            if GenerationItem.objects.filter(job=job, prompt=prompt).exists():
                return False
            candidates = Candidate.objects.bulk_create(
                [
                    Candidate(
                        prompt=prompt,
                        text=a.text,
                        source=CandidateSource.MODEL,
                        model_name=a.source.model.name,
                        sampling={
                            **_sampling_record(job, a.source),
                            "sample_index": i,
                            "truncated": a.truncated,
                            **({"reward": a.reward} if a.reward is not None else {}),
                        },
                    )
                    for i, a in enumerate(answers)
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
                        job=job, prompt=prompt, candidate=c, task=task, sample_index=i, reward=a.reward
                    )
                    for i, (c, a) in enumerate(zip(candidates, answers, strict=True))
                ]
            )
            GenerationJob.objects.filter(pk=job.pk).update(
                prompts_done=F("prompts_done") + 1, heartbeat_at=timezone.now()
            )
    except IntegrityError:
        return False  # another worker stored this prompt at the same moment
    return True


def _short_of(answers: list[Answer], sources: list[GenerationSource]) -> str:
    """Why a prompt's answers cannot make a ranking task ("" if they can): a model fell short of its share, or
    two models wrote the same answer (a task never shows one text twice)."""
    for source in sources:
        got = sum(1 for a in answers if a.source is source)
        if got < source.answers:
            named = f" from '{source.model.name}'" if len(sources) > 1 else ""
            return f"only {got} distinct non-empty answers{named}, {source.answers} needed"
    texts = [a.text for a in answers]
    if len(set(texts)) < len(texts):
        return "two models wrote the same answer"
    return ""


def _skip_prompt(job: GenerationJob, prompt_id: int, reason: str) -> None:
    with transaction.atomic():
        row = GenerationJob.objects.select_for_update().get(pk=job.pk)
        row.skipped = [*row.skipped, {"prompt": prompt_id, "reason": reason}]
        row.prompts_skipped += 1
        row.save(update_fields=["skipped", "prompts_skipped"])


def _sampler(job: GenerationJob, sources: list[GenerationSource]) -> Sampler:
    """Load what the job samples with (each model once per execution) and return its per-batch sampling function:
    each source's share of answers per prompt, drawn distinct within the source."""
    s = job.settings

    def settings_of(position: int) -> SamplingSettings:
        # Each model draws with its own seed: two sources serving the same weights must not repeat each other.
        return SamplingSettings(
            temperature=s["temperature"],
            top_p=s["top_p"],
            max_new_tokens=s["max_new_tokens"],
            seed=s["seed"] + SOURCE_SEED_STRIDE * position,
        )

    backends: list[Callable] = []
    if job.backend == Backend.OPENAI:
        for i, source in enumerate(sources):
            client = OpenAIClient(_endpoint_config(job, s, source.endpoint_model or job.endpoint_model))
            backends.append(partial(client.backend, settings=settings_of(i)))
    else:
        from rewardtrain.training.modeling import load_model_and_tokenizer  # torch: workers only

        device = _device()
        for i, source in enumerate(sources):
            located = registered_model_locate(source.model)  # checked again now: the root may have changed
            model, tokenizer = load_model_and_tokenizer(
                located.path, gguf_file=located.gguf_file, device=device
            )
            backends.append(
                partial(local_backend, model, tokenizer, settings=settings_of(i), batch_size=s["batch_size"])
            )

    reward = None
    if s["best_of_n"]:
        from rewardtrain.training.modeling import load_reward_model  # torch: workers only

        reward = load_reward_model(registered_model_locate(job.reward_model).path, device=_device())

    def answers_of(source: GenerationSource, convs, drawn: list[Distinct]) -> list[list[Answer]]:
        if reward is None:
            return [
                [Answer(t, source, None, cut) for t, cut in zip(d.answers, d.truncated, strict=True)]
                for d in drawn
            ]
        ranked = rank_by_reward(reward[0], reward[1], convs, [d.answers for d in drawn])
        cut_of = [dict(zip(d.answers, d.truncated, strict=True)) for d in drawn]
        return [
            [Answer(x.text, source, x.reward, cut_of[i][x.text]) for x in row[: source.answers]]
            for i, row in enumerate(ranked)
        ]

    def sample(convs: list[list[dict[str, str]]]) -> list[list[Answer]]:
        out: list[list[Answer]] = [[] for _ in convs]
        for source, make_backend in zip(sources, backends, strict=True):
            draw_n = s["best_of_n"] or source.answers
            drawn = collect_distinct(make_backend(convs), len(convs), draw_n, s["max_rounds"])
            for row, got in zip(out, answers_of(source, convs, drawn), strict=True):
                row.extend(got)
        return out

    return sample


class JobFailed(Exception):
    """A failure whose message is already the one line to show the job's admins."""


def _endpoint_config(job: GenerationJob, s: dict[str, Any], served: str):
    """How to reach the job's endpoint for its model `served`, from this worker's own settings: the base URL and
    the one variable the operator named for its key. Nothing here comes from the job but the endpoint's name and
    model."""
    endpoint = endpoint_get(job.endpoint) if job.endpoint else None
    if endpoint is None:
        raise JobFailed(f"endpoint '{job.endpoint}' is not configured on this worker")
    if served not in endpoint.models:
        raise JobFailed(f"endpoint '{endpoint.name}' no longer serves '{served}'")
    api_key = ""
    if endpoint.api_key_env:
        api_key = os.environ.get(endpoint.api_key_env, "")
        if not api_key:
            raise JobFailed(f"endpoint '{endpoint.name}': its API key is not set on this worker")
    return EndpointConfig(
        base_url=endpoint.base_url,
        model=served,
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
            sources = job_sources(job)
            sample = _sampler(job, sources) if todo else None
            batch = job.settings["batch_size"]
            for start in range(0, len(todo), batch):
                if GenerationJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                    return _finish(job, RunStatus.CANCELLED)
                rows = [prompts[pid] for pid in todo[start : start + batch]]
                answers = sample([p.messages for p in rows])
                for prompt, got in zip(rows, answers, strict=True):
                    why = _short_of(got, sources)
                    if why:
                        _skip_prompt(job, prompt.pk, why)
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
