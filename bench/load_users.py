"""Locust users for bench/load.py (run by it; not alone): labelers, admins polling dashboards, an exporter.

Configured by environment variables that bench/load.py sets: LOAD_PROJECT, LOAD_SNAPSHOT, LOAD_TOKENS (a file
of labeler tokens), LOAD_ADMIN_TOKENS, LOAD_OK_FILE (where the client ids of the submissions that succeeded
are written at the end), LOAD_STATS_FILE (the figures, as JSON), LOAD_LABELERS, LOAD_THINK_MIN_S, LOAD_THINK_MAX_S, LOAD_WORKSPACE_STATS (0: labelers skip my-stats).
"""

import json
import os
import random
import time
import uuid
from pathlib import Path

from locust import FastHttpUser, between, constant, events, task

PROJECT = int(os.environ.get("LOAD_PROJECT", "0"))
SNAPSHOT = int(os.environ.get("LOAD_SNAPSHOT", "0"))
THINK = (float(os.environ.get("LOAD_THINK_MIN_S", "2")), float(os.environ.get("LOAD_THINK_MAX_S", "5")))
_labeler_tokens = (
    iter(Path(os.environ["LOAD_TOKENS"]).read_text().split()) if "LOAD_TOKENS" in os.environ else None
)
_admin_tokens = (
    iter(Path(os.environ["LOAD_ADMIN_TOKENS"]).read_text().split())
    if "LOAD_ADMIN_TOKENS" in os.environ
    else None
)
WORKSPACE_STATS = os.environ.get("LOAD_WORKSPACE_STATS", "1") == "1"
submitted_ok: list[str] = []


class Labeler(FastHttpUser):
    """Next task, think 2 to 5 s, submit a ranking of its answers, refresh "my figures" (as the workspace does);
    then the next task at once (the workspace has it prefetched)."""

    fixed_count = int(os.environ.get("LOAD_LABELERS", "200"))
    wait_time = constant(0)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Token {next(_labeler_tokens)}"}
        self.out_of_work = False

    @task
    def label(self) -> None:
        if self.out_of_work:
            time.sleep(1)
            return
        with self.client.post(
            f"/api/projects/{PROJECT}/assignments/next/",
            name="next",
            headers=self.headers,
            catch_response=True,
        ) as response:
            if response.status_code == 204:
                self.out_of_work = True
                return
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {(response.text or str(response.error))[:200]}")
                return
            lease = response.json()
        ids = [c["id"] for c in lease["task"]["candidates"]]
        random.shuffle(ids)
        think = random.uniform(*THINK)
        time.sleep(think)  # gevent's sleep: the other users go on meanwhile
        client_id = str(uuid.uuid4())
        payload = {"client_id": client_id, "tiers": [[i] for i in ids], "seconds_spent": round(think, 2)}
        with self.client.post(
            f"/api/assignments/{lease['id']}/submit/",
            name="submit",
            json=payload,
            headers=self.headers,
            catch_response=True,
        ) as response:
            if response.status_code in (200, 201):
                submitted_ok.append(client_id)
            else:
                response.failure(f"{response.status_code}: {(response.text or str(response.error))[:200]}")
        if WORKSPACE_STATS:  # the workspace refreshes the labeler's own figures after each task
            self.client.get(f"/api/projects/{PROJECT}/my-stats/", name="my-stats", headers=self.headers)


class Admin(FastHttpUser):
    """An admin with the dashboard open: it refreshes every few seconds, and looks at agreement and exports."""

    fixed_count = 2
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Token {next(_admin_tokens)}"}

    @task(4)
    def dashboard(self) -> None:
        self.client.get(f"/api/projects/{PROJECT}/dashboard/", name="dashboard", headers=self.headers)

    @task(1)
    def agreement(self) -> None:
        self.client.get(f"/api/projects/{PROJECT}/agreement/", name="agreement", headers=self.headers)

    @task(1)
    def snapshots(self) -> None:
        self.client.get(f"/api/projects/{PROJECT}/snapshots/", name="snapshots", headers=self.headers)


class Exporter(FastHttpUser):
    """A script downloading an export over and over: the whole file, then a page of records as JSON."""

    fixed_count = 1
    wait_time = constant(0.5)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Token {next(_admin_tokens)}"}

    @task
    def download(self) -> None:
        base = f"/api/projects/{PROJECT}/snapshots/{SNAPSHOT}"
        self.client.get(f"{base}/files/train.jsonl", name="export file", headers=self.headers)
        self.client.get(f"{base}/records/?split=train&limit=100", name="export records", headers=self.headers)


def _figures(entry) -> dict[str, float]:
    return {
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": round(entry.total_rps, 2),
        **{f"p{q}_ms": entry.get_response_time_percentile(q / 100) for q in (50, 95, 99)},
    }


@events.quitting.add_listener
def _write_results(environment, **kwargs) -> None:
    """After the last request: the client ids that succeeded, and the figures per endpoint and in total."""
    if "LOAD_OK_FILE" in os.environ:
        Path(os.environ["LOAD_OK_FILE"]).write_text("\n".join(submitted_ok) + "\n")
    if "LOAD_STATS_FILE" in os.environ:
        stats = environment.stats
        figures = {entry.name: _figures(entry) for entry in stats.entries.values()}
        figures["Aggregated"] = _figures(stats.total)
        figures["errors"] = [
            {"name": e.name, "error": str(e.error), "occurrences": e.occurrences}
            for e in stats.errors.values()
        ]
        Path(os.environ["LOAD_STATS_FILE"]).write_text(json.dumps(figures))
