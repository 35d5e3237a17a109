"""Blind ranking: labelers name answers by per-assignment ids in a per-assignment order, never by database ids
(finding 12), and candidate ids in ratings and flags have one spelling (finding 8)."""

import pytest
from rest_framework.test import APIClient

from labeling.models import Candidate, Ranking, Role
from labeling.services.blind import internal_ids, public_id, public_ids
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, new_client_id

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def lease(client, project) -> dict:
    response = client.post(f"/api/projects/{project.pk}/assignments/next/")
    assert response.status_code == 200, response.content
    return response.json()


def submit(client, assignment_id: int, **body):
    return client.post(
        f"/api/assignments/{assignment_id}/submit/", {"client_id": new_client_id(), **body}, format="json"
    )


def test_public_ids_are_positive_js_safe_integers_fixed_per_assignment():
    ids = [public_id(a, c) for a in range(1, 30) for c in range(1, 10)]
    assert all(isinstance(i, int) and 1 <= i < 2**48 for i in ids)
    assert len(set(ids)) == len(ids)
    assert public_id(7, 3) == public_id(7, 3) != public_id(8, 3)
    assert list(public_ids(5, [1, 2, 3, 4]).values()) == sorted(public_ids(5, [1, 2, 3, 4]).values())
    assert internal_ids(5, [1, 2, 3, 4]) == {v: k for k, v in public_ids(5, [1, 2, 3, 4]).items()}


def test_labelers_never_see_database_ids_and_each_gets_their_own():
    project = make_project(redundancy=2)
    import_ranking_tasks(project, 1)
    first, second = client_for(add_member(project)), client_for(add_member(project))
    a, b = lease(first, project), lease(second, project)
    db_ids = set(Candidate.objects.values_list("id", flat=True))
    ids_a = [c["id"] for c in a["task"]["candidates"]]
    ids_b = [c["id"] for c in b["task"]["candidates"]]
    assert not db_ids & set(ids_a) and not db_ids & set(ids_b)
    assert not set(ids_a) & set(ids_b)
    # Fixed for the assignment: a reload and the detail call show the same ids in the same order.
    assert [c["id"] for c in lease(first, project)["task"]["candidates"]] == ids_a
    detail = first.get(f"/api/assignments/{a['id']}/").json()
    assert [c["id"] for c in detail["task"]["candidates"]] == ids_a


def test_the_order_shown_does_not_follow_the_file():
    """The file's first answer (the lowest database id) lands anywhere: over 24 tasks it is not always first."""
    project = make_project()
    import_ranking_tasks(project, 24)
    client = client_for(add_member(project))
    places = []
    for _ in range(24):
        body = lease(client, project)
        texts = [c["text"] for c in body["task"]["candidates"]]
        places.append(next(i for i, t in enumerate(texts) if t.endswith(".0")))
        ids = [c["id"] for c in body["task"]["candidates"]]
        assert submit(client, body["id"], tiers=[[i] for i in ids]).status_code == 201
    assert len(set(places)) >= 3, places  # all four places are equally likely; one place 24 times: 4**-23


def test_database_ids_are_refused_and_the_ranking_is_stored_by_database_id():
    project = make_project()
    import_ranking_tasks(project, 1)
    client = client_for(add_member(project))
    body = lease(client, project)
    db_ids = list(Candidate.objects.order_by("id").values_list("id", flat=True))
    refused = submit(client, body["id"], tiers=[[i] for i in db_ids])
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_ranking"
    assert f"candidate {db_ids[0]} is not an answer of this task" in str(refused.json()["errors"])

    ids = [c["id"] for c in body["task"]["candidates"]]
    stored = submit(
        client, body["id"], tiers=[[i] for i in ids], ratings={str(ids[0]): 7}, flags={str(ids[1]): []}
    )
    assert stored.status_code == 201, stored.json()
    assert stored.json()["tiers"] == [[i] for i in ids] and stored.json()["ratings"] == {str(ids[0]): 7}
    to_db = internal_ids(body["id"], db_ids)
    ranking = Ranking.objects.get()
    assert ranking.tiers == [[to_db[i]] for i in ids]
    assert ranking.ratings == {str(to_db[ids[0]]): 7}
    # Reading it back shows the labeler's ids again.
    mine = client.get(f"/api/assignments/{body['id']}/annotation/").json()
    assert mine["tiers"] == [[i] for i in ids] and mine["ratings"] == {str(ids[0]): 7}


@pytest.mark.parametrize("spelling", ["0{}", " {}", "{} ", "{}.0", "+{}", "1e0", "0x1"])
def test_a_candidate_id_has_one_spelling_in_ratings_and_flags(spelling):
    project = make_project()
    import_ranking_tasks(project, 1)
    client = client_for(add_member(project))
    body = lease(client, project)
    ids = [c["id"] for c in body["task"]["candidates"]]
    tiers = [[i] for i in ids]
    odd = spelling.format(ids[0])
    for field, value in (("ratings", {str(ids[0]): 5, odd: 6}), ("flags", {odd: []})):
        response = submit(client, body["id"], tiers=tiers, **{field: value})
        assert response.status_code == 400, (field, odd)
        errors = response.json()["errors"]
        assert any(e["field"] == field and repr(odd) in e["message"] for e in errors), errors
    assert not Ranking.objects.exists()
    response = submit(client, body["id"], tiers=tiers, ratings={str(ids[0]): 5})
    assert response.status_code == 201 and Ranking.objects.get().ratings == {
        str(internal_ids(body["id"], Candidate.objects.values_list("id", flat=True))[ids[0]]): 5
    }


def test_reviewers_and_admins_still_see_database_ids():
    project = make_project()
    import_ranking_tasks(project, 1)
    client = client_for(add_member(project))
    body = lease(client, project)
    ids = [c["id"] for c in body["task"]["candidates"]]
    assert submit(client, body["id"], tiers=[[i] for i in ids]).status_code == 201
    reviewer = client_for(add_member(project, Role.REVIEWER))
    (row,) = reviewer.get(f"/api/projects/{project.pk}/rankings/").json()["results"]
    assert {i for tier in row["tiers"] for i in tier} == set(Candidate.objects.values_list("id", flat=True))
