"""Property-based fuzzing (hypothesis) of the bodies people send most: submit, draft, revise, import and login.
No body may cause a 5xx.

Each route gets bodies with the right keys and hostile values (huge integers, NaN and infinities, nested lists,
NUL, lone surrogates, Unicode line separators, very long strings, wrong types, nesting far past any limit),
plus arbitrary JSON and arbitrary bytes. Requests go in-process through Django's test client on PostgreSQL,
each in a savepoint that is rolled back, so one case never shapes the next. Runs are derandomized (the same
cases every time) and the case count must reach CASES_FLOOR. `-s` prints each route's cases and status codes.
ANNOTATE_FUZZ_BODY_SCALE multiplies every budget (1: 5,200 cases, about a minute on two cores).
"""

import csv
import io
import json
import logging
import os
import string
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from labeling.models import Guideline, Role
from labeling.tests.factories import add_member, import_prompt_tasks, import_ranking_tasks, make_project

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SCALE = float(os.environ.get("ANNOTATE_FUZZ_BODY_SCALE", "1"))
CASES_FLOOR = int(5000 * SCALE)
# Cases per route: the hot paths get the most.
BUDGET = {
    "submit_ranking": 1250,
    "submit_demonstration": 500,
    "revise_ranking": 500,
    "revise_demonstration": 300,
    "draft": 700,
    "login": 800,
    "import": 350,
    "raw_bytes": 800,
}

# Values


class Raw:
    """JSON text spliced into a body as is: nesting past Python's recursion limit, integers too long to print."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return (
            f"Raw({self.text[:40]!r}… {len(self.text)} chars)"
            if len(self.text) > 40
            else f"Raw({self.text!r})"
        )


def encode(body: Any) -> bytes:
    raws: list[str] = []

    def default(value: Any) -> str:
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"\x01raw{len(raws) - 1}\x01"
        raise TypeError(type(value))

    # ensure_ascii writes lone surrogates as \udXXX escapes, as a hostile client can; allow_nan writes NaN.
    text = json.dumps(body, default=default, ensure_ascii=True, allow_nan=True)
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x01raw{i}\x01"), raw)
    return text.encode()


SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "x\udc00y",
    "\ud83d\ude00",
    "line\u2028sep",
    "para\u2029sep",
    "next\x85line",
    "\x1c\x1d\x1e",
    "\r\n",
    "\ufeffbom",
    "0",
    "01",
    " 1",
    "-1",
    "1.0",
    "1e999",
    "NaN",
    "null",
    "true",
    "<script>alert(1)</script>",
    "'; DROP TABLE labeling_task; --",
    "%s%s%n",
    "../../etc/passwd",
]
SPECIAL_NUMBERS = [0, -1, 1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30, 0.5, -0.0, 1e308, 1e-320]

texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(SPECIAL_TEXT),
    st.builds(
        lambda a, b: a + b, st.text(max_size=10), st.sampled_from(["\x00", "\ud800", "\udbff", "\u2028"])
    ),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "\u2028", "é"]), st.sampled_from([1001, 33_000])),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(SPECIAL_NUMBERS),
)
raws = st.one_of(
    st.integers(min_value=30, max_value=3000).map(lambda n: Raw("[" * n + "]" * n)),
    st.integers(min_value=30, max_value=1500).map(lambda n: Raw('{"a":' * n + "1" + "}" * n)),
    st.sampled_from([Raw("1" * 5000), Raw("-" + "9" * 400), Raw("1e400"), Raw("-Infinity"), Raw("NaN")]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)),
    max_leaves=8,
)
hostile = st.one_of(json_values, json_values, json_values, raws)
# Plausible text and JSON: what an honest client sends (st.text may still hold a NUL now and then).
words = st.text(alphabet=string.ascii_letters + " .,?é\u2028", min_size=1, max_size=30).filter(str.strip)
plain_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(words, children, max_size=3)),
    max_leaves=6,
)


def chance(draw: Callable, one_in: int) -> bool:
    """True about once in `one_in` draws. (Hypothesis favours the ends of a range, so the middle is the pick.)"""
    return draw(st.integers(0, one_in - 1)) == one_in // 2


def bodies(
    core: dict[str, st.SearchStrategy],
    extra: dict[str, st.SearchStrategy] | None = None,
    tricky: dict[str, st.SearchStrategy] | None = None,
    hostile_fields: tuple[int, ...] = (0, 0, 0, 1, 1, 2),
) -> st.SearchStrategy:
    """Objects with most of the `core` keys and now and then an `extra` one, plausible values, then none, one
    or two of them replaced by a hostile value (or a `tricky` one for that key); or, one time in six, any JSON.
    """
    extra, tricky = extra or {}, tricky or {}
    names = sorted({*core, *extra})

    @st.composite
    def build(draw) -> Any:
        # Hypothesis leans to small draws: a key is left out, or an extra one added, on the largest.
        body = {name: draw(strategy) for name, strategy in core.items() if not chance(draw, 12)}
        body.update({name: draw(strategy) for name, strategy in extra.items() if chance(draw, 10)})
        for _ in range(draw(st.sampled_from(hostile_fields))):
            name = draw(st.sampled_from(names))
            body[name] = draw(st.one_of(hostile, tricky[name]) if name in tricky else hostile)
        if chance(draw, 10):
            body[draw(texts)] = draw(hostile)
        return body

    return st.one_of(build(), build(), build(), build(), build(), hostile)


# Route bodies


def submit_bodies(kind: str, candidate_ids: list[Any], flag_keys: list[str]) -> st.SearchStrategy:
    keys = st.sampled_from([str(c) for c in candidate_ids])
    spellings = st.sampled_from(candidate_ids).flatmap(
        lambda c: st.sampled_from([f"0{c}", f" {c}", f"{c}.0", f"+{c}", str(c) * 30, f"{c}\x00"])
    )
    tiers = st.permutations(candidate_ids).flatmap(
        lambda order: st.sampled_from([[[c] for c in order], [order[:2], order[2:]], [order]])
    )
    message = st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant"]), "content": words}
    )
    common = {
        "client_id": st.uuids().map(str),
        "seconds_spent": st.one_of(st.integers(0, 86_400), st.floats(0, 86_400)),
        "guideline_version": st.sampled_from([1, 1, 1, 2]),
    }
    ranking = {
        "tiers": tiers,
        "ratings": st.dictionaries(keys, st.integers(1, 7), max_size=4),
        "flags": st.dictionaries(keys, st.lists(st.sampled_from(flag_keys), max_size=3, unique=True)),
    }
    writing = {"text": words}
    others = {
        "unrankable_reason": words,
        "comment": words,
        "messages": st.lists(message, max_size=4),
        "suggestion_id": st.integers(1, 5),
    }
    tricky = {
        "tiers": st.lists(st.lists(st.sampled_from([*candidate_ids, 0, -1, 2**63, True, "1"]), max_size=5)),
        "ratings": st.dictionaries(spellings, st.one_of(st.integers(1, 7), scalars), max_size=4),
        "flags": st.dictionaries(st.one_of(keys, spellings), st.one_of(json_values, st.lists(json_values))),
        "messages": st.lists(st.dictionaries(st.sampled_from(["role", "content", "name"]), scalars)),
        "seconds_spent": st.sampled_from([-1, 86_401, 10**20, 1e308, True, "5"]),
    }
    core = {**common, **(ranking if kind == "ranking" else writing)}
    extra = {**others, **(writing if kind == "ranking" else ranking)}
    return bodies(core, extra, tricky)


def draft_bodies() -> st.SearchStrategy:
    return bodies({"payload": st.dictionaries(words, plain_json, max_size=4)})


def login_bodies(username: str) -> st.SearchStrategy:
    return bodies(
        {
            "username": st.sampled_from([username, username.upper(), "nobody"]),
            "password": st.sampled_from(["pw-" + username, "wrong"]),
        },
        tricky={"username": texts, "password": texts},
    )


@st.composite
def import_files(draw, k: int) -> tuple[dict, bytes]:
    kind = "nonsense" if chance(draw, 12) else draw(st.sampled_from(["prompts", "ranking_items"]))
    fmt = "jsonl" if kind == "ranking_items" or chance(draw, 2) else "csv"
    fmt = "xml" if chance(draw, 12) else fmt
    answer = st.one_of(words, st.fixed_dictionaries({"text": words, "model": words}))
    answers = st.lists(
        answer, min_size=k, max_size=k, unique_by=lambda a: a if isinstance(a, str) else a["text"]
    )
    record_fields = (
        {
            "external_id": st.uuids().map(lambda u: u.hex[:12]),
            "prompt": words,
            **({"answers": answers} if kind == "ranking_items" else {}),
        },
        {
            "messages": st.lists(
                st.fixed_dictionaries({"role": st.just("user"), "content": words}), max_size=2
            ),
            "metadata": st.dictionaries(words, plain_json, max_size=3),
            "priority": st.integers(-5, 5),
        },
        {
            "answers": st.lists(st.one_of(texts, st.dictionaries(texts, scalars)), max_size=k + 1),
            "priority": st.sampled_from([2**31, -(2**31) - 1, 10**30, 1.5, "3", True]),
            "external_id": st.one_of(texts, st.integers()),
        },
    )
    honest = chance(draw, 2)  # an honest file, to reach the writes, or one with hostile records
    record = bodies(*record_fields, hostile_fields=(0,)) if honest else bodies(*record_fields)
    if fmt == "csv":
        cells = words if honest else st.one_of(words, texts)
        rows = draw(st.lists(st.lists(cells, min_size=2, max_size=4), min_size=1, max_size=4))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            draw(
                st.sampled_from([["external_id", "prompt"], ["external_id", "prompt", "system", "priority"]])
            )
        )
        writer.writerows(rows)
        data = out.getvalue().encode("utf-8", "surrogatepass")
    else:
        lines = [encode(r) for r in draw(st.lists(record, min_size=1, max_size=3))]
        data = draw(st.sampled_from([b"\n", b"\r\n"] if honest else [b"\n", "\u2028".encode()])).join(lines)
    if chance(draw, 10):
        data = draw(st.binary(min_size=1, max_size=200))
    fields: dict[str, Any] = {"kind": kind, "format": fmt}
    if chance(draw, 2):
        fields["create_tasks"] = draw(hostile) if chance(draw, 8) else draw(st.booleans())
    # Form fields are text: anything else goes as its JSON, and a lone surrogate cannot be sent at all.
    fields = {
        name: (value if isinstance(value, str) else encode(value).decode())
        .encode("utf-8", "replace")
        .decode()
        for name, value in fields.items()
    }
    return fields, data


# The run


def _client(user=None) -> APIClient:
    client = APIClient(raise_request_exception=False)  # a 500 comes back as a response, to be counted
    if user is not None:
        client.force_authenticate(user)
    return client


def _lease(project, user) -> dict:
    response = _client(user).post(f"/api/projects/{project.pk}/assignments/next/")
    assert response.status_code == 200, response.content
    return response.json()


def _submitted(project, user, body: Callable[[dict], dict]) -> dict:
    lease = _lease(project, user)
    done = _client(user).post(
        f"/api/assignments/{lease['id']}/submit/",
        {"client_id": str(uuid.uuid4()), "seconds_spent": 5, **body(lease)},
        format="json",
    )
    assert done.status_code == 201, done.content
    return lease


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # One log line per request is noise here (a 5xx is recorded by the test itself) and costs time.
    request_log = logging.getLogger("annotate.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    # Redundancy 3: a submitted task stays open, so revising it reaches validation.
    rankings, demonstrations = make_project(redundancy=3), make_project(redundancy=3)
    import_ranking_tasks(rankings, 2)
    import_prompt_tasks(demonstrations, 2)
    labeler = add_member(rankings, Role.LABELER)
    add_member(demonstrations, Role.LABELER, user=labeler)
    reviser = add_member(rankings, Role.LABELER)
    add_member(demonstrations, Role.LABELER, user=reviser)
    ranking, demonstration = _lease(rankings, labeler), _lease(demonstrations, labeler)
    assert (ranking["task"]["kind"], demonstration["task"]["kind"]) == ("ranking", "demonstration")
    ranked = _submitted(
        rankings, reviser, lambda lease: {"tiers": [[c["id"]] for c in lease["task"]["candidates"]]}
    )
    written = _submitted(demonstrations, reviser, lambda lease: {"text": "An answer."})
    try:
        yield {
            "project": rankings,
            "client": _client(labeler),
            "reviser": _client(reviser),
            "admin": _client(rankings.memberships.get(role=Role.ADMIN).user),
            "anonymous": _client(),
            "username": labeler.username,
            "ranking": ranking["id"],
            "demonstration": demonstration["id"],
            "submitted_ranking": ranked["id"],
            "submitted_ids": [c["id"] for c in ranked["task"]["candidates"]],
            "submitted_demonstration": written["id"],
            "candidate_ids": [c["id"] for c in ranking["task"]["candidates"]],
            "flag_keys": sorted(Guideline.objects.filter(project=rankings).latest("version").flag_keys),
        }
    finally:
        request_log.setLevel(level)


def run_cases(
    name: str, strategy: st.SearchStrategy, send: Callable[[Any], Any], counts: dict, failures: list
) -> Counter:
    """Run a route's cases; returns how many got each status code."""
    statuses: Counter = Counter()

    @given(case=strategy)
    @settings(
        max_examples=max(1, int(BUDGET[name] * SCALE)),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        with transaction.atomic():
            response = send(case)
            transaction.set_rollback(True)
        counts[name] = counts.get(name, 0) + 1
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{name}: {response.status_code} for {case!r:.600}\n{response.content[:400]!r}")

    run()
    return statuses


def test_no_server_errors_on_hostile_bodies(world):
    client, reviser, anonymous = world["client"], world["reviser"], world["anonymous"]
    project = world["project"]
    counts: dict[str, int] = {}
    failures: list[str] = []
    ranking_bodies = submit_bodies("ranking", world["candidate_ids"], world["flag_keys"])
    writing_bodies = submit_bodies("demonstration", world["candidate_ids"], world["flag_keys"])

    def json_to(c: APIClient, path: str, method: str = "post") -> Callable[[Any], Any]:
        return lambda body: getattr(c, method)(path, encode(body), content_type="application/json")

    def send_import(case: tuple[dict, bytes]) -> Any:
        fields, data = case
        upload = io.BytesIO(data)
        upload.name = "fuzz.txt"
        return world["admin"].post(
            f"/api/projects/{project.pk}/imports/", {**fields, "file": upload}, format="multipart"
        )

    paths = {
        f"/api/assignments/{world['ranking']}/submit/": client.post,
        f"/api/assignments/{world['submitted_ranking']}/revise/": reviser.post,
        f"/api/assignments/{world['demonstration']}/draft/": client.put,
        "/api/auth/login": anonymous.post,
    }
    content_types = [
        "application/json",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ]

    def send_bytes(case: tuple[str, str, bytes]) -> Any:
        path, content_type, data = case
        return paths[path](path, data, content_type=content_type)

    routes: list[tuple[str, st.SearchStrategy, Callable[[Any], Any]]] = [
        ("submit_ranking", ranking_bodies, json_to(client, f"/api/assignments/{world['ranking']}/submit/")),
        (
            "submit_demonstration",
            writing_bodies,
            json_to(client, f"/api/assignments/{world['demonstration']}/submit/"),
        ),
        (
            "revise_ranking",
            submit_bodies("ranking", world["submitted_ids"], world["flag_keys"]),
            json_to(reviser, f"/api/assignments/{world['submitted_ranking']}/revise/"),
        ),
        (
            "revise_demonstration",
            writing_bodies,
            json_to(reviser, f"/api/assignments/{world['submitted_demonstration']}/revise/"),
        ),
        (
            "draft",
            draft_bodies(),
            json_to(client, f"/api/assignments/{world['demonstration']}/draft/", "put"),
        ),
        ("login", login_bodies(world["username"]), json_to(anonymous, "/api/auth/login")),
        ("import", import_files(project.k_answers), send_import),
        (
            "raw_bytes",
            st.tuples(
                st.sampled_from(sorted(paths)), st.sampled_from(content_types), st.binary(max_size=300)
            ),
            send_bytes,
        ),
    ]
    for name, strategy, send in routes:
        start = time.perf_counter()
        statuses = run_cases(name, strategy, send, counts, failures)
        print(f"{name}: {counts.get(name)} cases in {time.perf_counter() - start:.1f} s, {dict(statuses)}")

    total = sum(counts.values())
    print(f"\nhypothesis bodies: {total} cases {counts}, {len(failures)} 5xx")
    assert not failures, "\n\n".join(failures[:20])
    assert total >= CASES_FLOOR, counts
