"""Human win rates between the models whose answers were ranked side by side, per round and overall, beside the
reward model's predicted win rate on the same comparisons (InstructGPT's headline figure, on our own labelers).

What counts:

* A **comparison** is one labeler's verdict on two answers of one ranking task written by two different models:
  the answer in the better tier wins, two answers in one tier tie. Every cross-model pair of a ranking is one
  comparison, so a ranking of 2 answers from A and 2 from B gives 2 x 2 = 4 comparisons, and a task ranked by
  two labelers counts twice. Answers of the same model are never compared with each other.
* The **human win rate** of A over B is (wins + ties / 2) / comparisons, with a 95% Wilson score interval over
  that many comparisons. The comparisons of one ranking are not independent (one labeler, one prompt), so the
  interval is narrower than a per-ranking one would be; `rankings` says how many rankings stand behind it.
* Left out: unrankable rankings (no verdict), gold tasks (answers chosen to test labelers, not drawn from the
  models), answers with no model (written or imported without a name), and non-ranking tasks.
* A model is the registered model (`sampling["model"]`, or for answers stored before that key, the generation
  job's model); an imported answer with only a `model_name` is its own model by that name. Model A of a pair is
  the newer registered model (the higher id): the rate reads "how often people prefer the newer model".
* The **reward model's predicted win rate** is the mean of sigmoid(score_A - score_B) over the same comparisons
  whose two answers it has scored (`CandidateScore`), by the reward model chosen (query parameter), else the
  newest reward model that scored any of the compared answers. `rm_comparisons` says how many it covered.
* A **round** is a generation job (as in `rewardtrain.runs.rounds`): its ranking tasks' comparisons. Overall
  covers every ranking task of the project, so imported rankings between named models count there too. Each
  pair is also broken down by the guideline version the ranking was made under.

The whole report takes a fixed number of queries, however many rankings there are.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from labeling.models import Ranking, TaskCandidate, TaskKind
from labeling.services.errors import FieldError, invalid
from rewardtrain.generation.models import GenerationItem, GenerationJob
from rewardtrain.runs.models import CandidateScore, ModelKind, RegisteredModel

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile

# ("id", registered model id) or ("name", model name)
ModelKey = tuple[str, int | str]


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion successes / n (successes may count ties as halves)."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


@dataclass
class Tally:
    """The comparisons of one pair of models (A over B) in one slice (a round, a guideline version)."""

    wins: int = 0
    ties: int = 0
    losses: int = 0
    rankings: set[int] = field(default_factory=set)
    rm_sum: float = 0.0
    rm_n: int = 0

    def add(self, ranking_id: int, outcome: float, rm_p: float | None) -> None:
        if outcome == 1:
            self.wins += 1
        elif outcome == 0:
            self.losses += 1
        else:
            self.ties += 1
        self.rankings.add(ranking_id)
        if rm_p is not None:
            self.rm_sum += rm_p
            self.rm_n += 1

    def stats(self) -> dict[str, Any]:
        n = self.wins + self.ties + self.losses
        rate = (self.wins + self.ties / 2) / n
        low, high = wilson_interval(self.wins + self.ties / 2, n)
        return {
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "comparisons": n,
            "rankings": len(self.rankings),
            "win_rate": rate,
            "low": low,
            "high": high,
            "rm_win_rate": self.rm_sum / self.rm_n if self.rm_n else None,
            "rm_comparisons": self.rm_n,
        }


@dataclass
class PairTallies:
    total: Tally = field(default_factory=Tally)
    by_version: dict[int, Tally] = field(default_factory=dict)

    def add(self, version: int, ranking_id: int, outcome: float, rm_p: float | None) -> None:
        self.total.add(ranking_id, outcome, rm_p)
        self.by_version.setdefault(version, Tally()).add(ranking_id, outcome, rm_p)


def _order(key: ModelKey) -> tuple:
    """Newer registered models first (higher id), then named-only models by name."""
    kind, value = key
    return (0, -value, "") if kind == "id" else (1, 0, str(value))


def _candidate_models(
    task_links: QuerySet,
) -> tuple[dict[int, ModelKey], dict[ModelKey, str], dict[int, int]]:
    """candidate id -> its model, model -> its name, candidate id -> its task."""
    rows = task_links.values_list(
        "task_id",
        "candidate_id",
        "candidate__model_name",
        "candidate__sampling__model",
        "candidate__generation_item__job__model_id",
    )
    model_of, names, task_of = {}, {}, {}
    for task_id, cid, name, sampled_by, job_model in rows:
        task_of[cid] = task_id
        registered = (
            sampled_by if isinstance(sampled_by, int) and not isinstance(sampled_by, bool) else job_model
        )
        if registered is not None:
            key: ModelKey = ("id", registered)
        elif name:
            key = ("name", name)
        else:
            continue
        model_of[cid] = key
        names.setdefault(key, name or f"model {registered}")
    return model_of, names, task_of


def _reward_model(
    project_id: int, reward_model_id: int | None, candidates: QuerySet
) -> RegisteredModel | None:
    rms = RegisteredModel.objects.filter(project_id=project_id, kind=ModelKind.RM)
    if reward_model_id is not None:
        chosen = rms.filter(pk=reward_model_id).first()
        if chosen is None:
            raise invalid(
                "Invalid win-rate request",
                FieldError("no reward model with this id in this project", "reward_model"),
            )
        return chosen
    scored = CandidateScore.objects.filter(reward_model=OuterRef("pk"), candidate_id__in=candidates)
    return rms.filter(Exists(scored)).order_by("-created_at", "-id").first()


def _rows(pairs: dict[tuple[ModelKey, ModelKey], PairTallies], names: dict[ModelKey, str]) -> list[dict]:
    def brief(key: ModelKey) -> dict[str, Any]:
        return {"id": key[1] if key[0] == "id" else None, "name": names[key]}

    out = []
    for (a, b), tallies in sorted(pairs.items(), key=lambda item: (_order(item[0][0]), _order(item[0][1]))):
        out.append(
            {
                "model_a": brief(a),
                "model_b": brief(b),
                **tallies.total.stats(),
                "by_guideline": [
                    {"guideline_version": v, **t.stats()} for v, t in sorted(tallies.by_version.items())
                ],
            }
        )
    return out


def project_win_rates(project_id: int, reward_model_id: int | None = None) -> dict[str, Any]:
    """Win rates between every pair of models ranked side by side: overall and per round (generation job)."""
    links = TaskCandidate.objects.filter(
        task__project_id=project_id, task__kind=TaskKind.RANKING, task__is_gold=False
    )
    model_of, names, task_of = _candidate_models(links)
    judge = _reward_model(project_id, reward_model_id, links.values("candidate_id"))
    scores: dict[int, float] = {}
    if judge is not None:
        scores = dict(
            CandidateScore.objects.filter(
                reward_model=judge, candidate_id__in=links.values("candidate_id")
            ).values_list("candidate_id", "score")
        )
    jobs = list(
        GenerationJob.objects.filter(project_id=project_id)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    job_of_task = dict(
        GenerationItem.objects.filter(job__project_id=project_id, task__isnull=False)
        .values_list("task_id", "job_id")
        .distinct()
    )
    rankings = Ranking.objects.filter(
        task__project_id=project_id, task__kind=TaskKind.RANKING, task__is_gold=False, unrankable=False
    ).values_list("id", "task_id", "tiers", "guideline__version")

    overall: dict[tuple[ModelKey, ModelKey], PairTallies] = {}
    per_job: dict[int, dict[tuple[ModelKey, ModelKey], PairTallies]] = {job: {} for job in jobs}
    for ranking_id, task_id, tiers, version in rankings.iterator(chunk_size=2000):
        tier_of = {
            cid: i
            for i, tier in enumerate(tiers or [])
            for cid in tier
            if cid in model_of and task_of.get(cid) == task_id
        }
        ranked = sorted(tier_of)
        job_pairs = per_job.get(job_of_task.get(task_id, -1))
        for i, x in enumerate(ranked):
            for y in ranked[i + 1 :]:
                if model_of[x] == model_of[y]:
                    continue
                a, b = (x, y) if _order(model_of[x]) < _order(model_of[y]) else (y, x)
                outcome = 1.0 if tier_of[a] < tier_of[b] else 0.5 if tier_of[a] == tier_of[b] else 0.0
                rm_p = sigmoid(scores[a] - scores[b]) if a in scores and b in scores else None
                pair = (model_of[a], model_of[b])
                overall.setdefault(pair, PairTallies()).add(version, ranking_id, outcome, rm_p)
                if job_pairs is not None:
                    job_pairs.setdefault(pair, PairTallies()).add(version, ranking_id, outcome, rm_p)
    return {
        "reward_model": None if judge is None else {"id": judge.pk, "name": judge.name},
        "overall": _rows(overall, names),
        "rounds": [
            {"number": n, "generation_job": job, "pairs": _rows(per_job[job], names)}
            for n, job in enumerate(jobs, 1)
        ],
    }
