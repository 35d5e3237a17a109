"""Blind candidate ids: how a labeler names the answers of a ranking task.

A candidate's database id follows the order it was stored in (a file's first answer has the lowest id, and
answers sampled in one batch are stored together), so showing it would tell a labeler which answer came first
— often the reference answer or the best-of-N winner. A labeler sees instead a per-assignment id: an HMAC of
(assignment, candidate) under the site's secret key, a positive integer below 2**48 (exact in JavaScript). The
answers are listed sorted by it, which is a random order fixed per assignment, different for each labeler.

Nothing is stored: the mapping is recomputed from the ids on every call. If SECRET_KEY changes while a lease is
live, the labeler's ids stop matching and the submission is refused for naming unknown answers, rather than
stored against the wrong ones.
"""

from collections.abc import Iterable
from typing import Any

from django.utils.crypto import salted_hmac

_SALT = "labeling.blind-candidate-id"
_SPAN = 2**48 - 1  # below Number.MAX_SAFE_INTEGER, so the browser keeps every id exact


def public_id(assignment_id: int, candidate_id: int) -> int:
    """The id a labeler sees for `candidate_id` on `assignment_id` (1 to 2**48 - 1)."""
    digest = salted_hmac(_SALT, f"{assignment_id}:{candidate_id}", algorithm="sha256").digest()
    return int.from_bytes(digest[:8], "big") % _SPAN + 1


def public_ids(assignment_id: int, candidate_ids: Iterable[int]) -> dict[int, int]:
    """Database id → the labeler's id, in the labeler's order (sorted by their id)."""
    pairs = sorted((public_id(assignment_id, cid), cid) for cid in candidate_ids)
    # Two answers of one task sharing an id has odds of about K²/2**49 (1e-13 at K=9): not worth a table.
    return {cid: pid for pid, cid in pairs}


def internal_ids(assignment_id: int, candidate_ids: Iterable[int]) -> dict[int, int]:
    """The labeler's id → database id, for the candidates of the assignment's task."""
    return {pid: cid for cid, pid in public_ids(assignment_id, candidate_ids).items()}


def _translate(tiers: Any, ratings: Any, flags: Any, convert) -> tuple[list, dict, dict]:
    return (
        [[convert(cid) for cid in tier] for tier in tiers or []],
        {str(convert(int(key))): value for key, value in (ratings or {}).items()},
        {str(convert(int(key))): value for key, value in (flags or {}).items()},
    )


def ranking_to_internal(
    mapping: dict[int, int], tiers: Any, ratings: Any, flags: Any
) -> tuple[list, dict, dict]:
    """A validated ranking in the labeler's ids (`mapping` from :func:`internal_ids`) in database ids."""
    return _translate(tiers, ratings, flags, mapping.__getitem__)


def ranking_to_public(assignment_id: int, tiers: Any, ratings: Any, flags: Any) -> tuple[list, dict, dict]:
    """A stored ranking (database ids) as the labeler of `assignment_id` names its answers."""
    return _translate(tiers, ratings, flags, lambda cid: public_id(assignment_id, cid))
