"""Projects, members and guideline versions."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.text import slugify

from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import (
    DEFAULT_CRITERIA,
    DEFAULT_FLAGS,
    DEFAULT_RATING_SCALE,
    Guideline,
    Membership,
    Project,
    Role,
    Selection,
)
from labeling.services.errors import FieldError, conflict, invalid

PROJECT_FIELDS = (
    "name",
    "description",
    "k_answers",
    "redundancy",
    "lease_seconds",
    "allow_ties",
    "gold_rate",
    "prompt_tasks_enabled",
    "dialogue_tasks_enabled",
    "selection",
    "max_redundancy",
)
_LIMITS = {
    "k_answers": (4, 9),
    "redundancy": (1, 20),
    "lease_seconds": (30, 24 * 3600),
    "gold_rate": (0.0, 1.0),
}
# The most labelers a ranking task may get when its labelers disagree (`max_redundancy`; null: no extra).
MAX_REDUNDANCY = 20


def _check_settings(values: dict[str, Any], current: Project | None = None) -> None:
    """Check the given settings; `current` supplies the ones not given (an update checks the result)."""
    errors = []
    for name, (low, high) in _LIMITS.items():
        if name in values and not (low <= values[name] <= high):
            errors.append(FieldError(f"must be between {low} and {high}, not {values[name]}", name))
    if "selection" in values and values["selection"] not in Selection.values:
        errors.append(FieldError(f"must be one of {', '.join(Selection.values)}", "selection"))
    redundancy = values.get("redundancy", current.redundancy if current else 1)
    cap = values.get("max_redundancy", current.max_redundancy if current else None)
    redundancy_ok = not any(e.field == "redundancy" for e in errors)
    if cap is not None and redundancy_ok and not redundancy <= cap <= MAX_REDUNDANCY:
        errors.append(
            FieldError(
                f"must be between the labelers per task ({redundancy}) and {MAX_REDUNDANCY}, not {cap}",
                "max_redundancy",
            )
        )
    if errors:
        raise invalid("Invalid project settings", *errors)


@transaction.atomic
def project_create(
    *, creator: AbstractBaseUser, name: str, slug: str | None = None, **settings: Any
) -> Project:
    """Create a project, make its creator an admin and publish guideline v1 with the default flags and scale."""
    unknown = set(settings) - set(PROJECT_FIELDS)
    if unknown:
        raise invalid(
            "Unknown project settings", *(FieldError("unknown setting", f) for f in sorted(unknown))
        )
    _check_settings(settings)
    slug = slug or slugify(name)[:80]
    if not slug:
        raise invalid("Invalid project", FieldError("a name with letters or digits is required", "name"))
    if Project.objects.filter(slug=slug).exists():
        raise conflict(f"A project with slug '{slug}' already exists.")
    project = Project.objects.create(name=name, slug=slug, created_by=creator, **settings)
    Membership.objects.create(project=project, user=creator, role=Role.ADMIN)
    Guideline.objects.create(
        project=project,
        version=1,
        body_md="# Guidelines\n\nRank answers by how helpful, truthful and harmless they are.",
        criteria=DEFAULT_CRITERIA,
        rating_scale=DEFAULT_RATING_SCALE,
        flags=DEFAULT_FLAGS,
        created_by=creator,
    )
    audit_record(AuditAction.PROJECT_CREATE, project=project, actor=creator, target=project)
    return project


@transaction.atomic
def project_update(*, project: Project, **changes: Any) -> Project:
    unknown = set(changes) - set(PROJECT_FIELDS)
    if unknown:
        raise invalid(
            "Unknown project settings", *(FieldError("unknown setting", f) for f in sorted(unknown))
        )
    _check_settings(changes, current=project)
    for name, value in changes.items():
        setattr(project, name, value)
    project.save(update_fields=list(changes) or None)
    audit_record(AuditAction.PROJECT_UPDATE, project=project, target=project, details={"changes": changes})
    return project


@transaction.atomic
def membership_set(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    """Add a member, or change the role of an existing one."""
    if role not in Role.values:
        raise invalid("Invalid role", FieldError(f"must be one of {', '.join(Role.values)}", "role"))
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    audit_record(
        AuditAction.MEMBER_SET,
        project=project,
        target=membership,
        details={"user_id": user.pk, "username": user.get_username(), "role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    project = membership.project
    if (
        membership.role == Role.ADMIN
        and not Membership.objects.filter(project=project, role=Role.ADMIN).exclude(pk=membership.pk).exists()
    ):
        raise conflict("A project keeps at least one admin; add another admin first.")
    audit_record(
        AuditAction.MEMBER_REMOVE,
        project=project,
        target=membership,
        details={
            "user_id": membership.user_id,
            "username": membership.user.get_username(),
            "role": membership.role,
        },
    )
    membership.delete()


def guideline_errors(*, criteria: Any, rating_scale: Any, flags: Any) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(criteria, list) or not all(isinstance(c, str) and c.strip() for c in criteria):
        errors.append(FieldError("must be a list of non-empty strings", "criteria"))
    if not isinstance(rating_scale, dict):
        errors.append(FieldError("must be an object with min and max", "rating_scale"))
    else:
        low, high = rating_scale.get("min"), rating_scale.get("max")
        if not (isinstance(low, int) and isinstance(high, int) and low < high):
            errors.append(FieldError("min and max must be integers with min < max", "rating_scale"))
    if not isinstance(flags, list):
        errors.append(FieldError("must be a list of {key, label}", "flags"))
    else:
        seen: set[str] = set()
        for i, flag in enumerate(flags):
            if not isinstance(flag, dict) or not isinstance(flag.get("key"), str) or not flag["key"].strip():
                errors.append(FieldError("must be an object with a non-empty key", f"flags[{i}]"))
                continue
            if "description" in flag and not isinstance(flag["description"], str):
                errors.append(FieldError("description must be text", f"flags[{i}].description"))
            if flag["key"] in seen:
                errors.append(FieldError(f"duplicate flag key '{flag['key']}'", f"flags[{i}]"))
            seen.add(flag["key"])
    return errors


def guideline_publish(
    *,
    project: Project,
    author: AbstractBaseUser,
    body_md: str,
    criteria: list[str] | None = None,
    rating_scale: dict | None = None,
    flags: list[dict] | None = None,
) -> Guideline:
    """Publish the next guideline version. Fields left out are carried over from the current version."""
    for _ in range(3):
        try:
            with transaction.atomic():
                # The project row lock orders concurrent publishers: each gets its own version number.
                Project.objects.select_for_update().get(pk=project.pk)
                current = Guideline.objects.filter(project=project).order_by("-version").first()
                criteria = (
                    criteria if criteria is not None else (current.criteria if current else DEFAULT_CRITERIA)
                )
                rating_scale = (
                    rating_scale
                    if rating_scale is not None
                    else (current.rating_scale if current else DEFAULT_RATING_SCALE)
                )
                flags = flags if flags is not None else (current.flags if current else DEFAULT_FLAGS)
                errors = guideline_errors(criteria=criteria, rating_scale=rating_scale, flags=flags)
                if errors:
                    raise invalid("Invalid guideline", *errors)
                version = (
                    Guideline.objects.filter(project=project).aggregate(v=Max("version"))["v"] or 0
                ) + 1
                guideline = Guideline.objects.create(
                    project=project,
                    version=version,
                    body_md=body_md,
                    criteria=criteria,
                    rating_scale=rating_scale,
                    flags=flags,
                    created_by=author,
                )
                audit_record(
                    AuditAction.GUIDELINE_PUBLISH,
                    project=project,
                    actor=author,
                    target=guideline,
                    details={"version": version},
                )
                return guideline
        except IntegrityError:
            continue
    raise conflict("Another guideline version was published at the same moment; try again.")
