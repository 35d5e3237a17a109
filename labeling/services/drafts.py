"""Drafts: a labeler's unsubmitted work on an assignment, kept on the server."""

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from labeling.models import Assignment, Draft
from labeling.services.errors import FieldError, invalid
from labeling.services.text import MAX_BODY_DEPTH, find_bad_text

MAX_DRAFT_BYTES = 256 * 1024


@transaction.atomic
def draft_save(*, user: AbstractBaseUser, assignment: Assignment, payload: Any) -> Draft:
    """Store (replace) the user's draft of their own assignment. The caller has checked it is theirs."""
    if not isinstance(payload, dict):
        raise invalid("Invalid draft", FieldError("must be a JSON object", "payload"))
    bad = find_bad_text({"payload": payload}, max_depth=MAX_BODY_DEPTH)  # the rules of an API body
    if bad is not None:
        raise invalid("Invalid draft", FieldError(bad.reason, bad.path), code=bad.code)
    if len(json.dumps(payload)) > MAX_DRAFT_BYTES:
        raise invalid("Draft too large", FieldError(f"at most {MAX_DRAFT_BYTES} bytes of JSON", "payload"))
    draft, _ = Draft.objects.update_or_create(assignment=assignment, user=user, defaults={"payload": payload})
    return draft
