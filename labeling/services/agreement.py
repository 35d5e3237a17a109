"""Agreement between labelers and accuracy on gold tasks.

The math at the top is pure Python (no database) and is tested on hand-worked and random data; the report at the
bottom reads a project's rankings and applies it.

Definitions (a ranking is tiers of candidate ids, best first; a tier of several ids is a tie):

* **Pairwise agreement** of two rankings of the same answers: over every unordered pair of answers both placed,
  the share on which the two give the same relation, where the relation is "a better", "b better" or "tied".
  So a tie against a tie agrees, and a tie against a strict order disagrees. Pooled figures divide the summed
  agreeing pairs by the summed pairs (every answer pair weighs the same).
* **Kendall's tau-b** of two rankings: computed on the tier positions (tie-corrected, as
  `scipy.stats.kendalltau`); undefined (None) when either ranking ties every answer. Pooled figures are the
  mean over comparisons where it is defined.
* **Krippendorff's alpha (ordinal)**: units are (task, answer), coders are labelers, the value is the answer's
  competition rank (how many answers that labeler placed strictly above it). Only units with at least two
  values count. None when there is no variation at all.
* **Gold accuracy** of a ranking of a gold task: its pairwise agreement with `Task.gold_answer`; pooled over a
  labeler's gold rankings by answer pairs. `gold_exact` is the share of gold rankings equal to the gold tiers
  (the same tiers as sets, in the same order).

Agreement is measured on non-gold tasks (gold tasks are measured against their answer instead); unrankable
rankings count nowhere. By-version figures compare only rankings made under the same guideline version; the
daily trend dates each comparison by the later of its two rankings. A labeler's alpha is computed over the tasks
they share with at least one other labeler (all of those tasks' rankings).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from labeling.models import Project, Ranking

Tiers = Sequence[Sequence[int]]

# ---------------------------------------------------------------------------------------------- pure math


def competition_ranks(tiers: Tiers) -> dict[int, int]:
    """Candidate id -> how many candidates are placed strictly above it (0 for the best tier)."""
    ranks: dict[int, int] = {}
    above = 0
    for tier in tiers:
        for cid in tier:
            ranks[cid] = above
        above += len(tier)
    return ranks


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def pair_agreement(a: Tiers, b: Tiers) -> tuple[int, int]:
    """(agreeing pairs, pairs) over the answers both rankings place; ties agree only with ties."""
    ra, rb = competition_ranks(a), competition_ranks(b)
    common = sorted(ra.keys() & rb.keys())
    agree = total = 0
    for x, y in combinations(common, 2):
        total += 1
        agree += _sign(ra[x] - ra[y]) == _sign(rb[x] - rb[y])
    return agree, total


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of two paired sequences; None when either is constant (or shorter than 2)."""
    if len(x) != len(y):
        raise ValueError("kendall_tau_b needs sequences of equal length")
    concordant = discordant = ties_x = ties_y = 0
    for i, j in combinations(range(len(x)), 2):
        dx, dy = _sign(x[i] - x[j]), _sign(y[i] - y[j])
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            ties_x += 1
        elif dy == 0:
            ties_y += 1
        elif dx == dy:
            concordant += 1
        else:
            discordant += 1
    # tau-b = (C - D) / sqrt((n0 - n1) (n0 - n2)); n0 - n1 are pairs not tied in x, n0 - n2 not tied in y.
    not_tied_x = concordant + discordant + ties_y
    not_tied_y = concordant + discordant + ties_x
    if not_tied_x == 0 or not_tied_y == 0:
        return None
    return (concordant - discordant) / math.sqrt(not_tied_x * not_tied_y)


def tau_b_tiers(a: Tiers, b: Tiers) -> float | None:
    ra, rb = competition_ranks(a), competition_ranks(b)
    common = sorted(ra.keys() & rb.keys())
    return kendall_tau_b([ra[c] for c in common], [rb[c] for c in common])


def krippendorff_alpha_ordinal(units: Iterable[Sequence[float]]) -> float | None:
    """Krippendorff's alpha with the ordinal metric. Each unit is the list of values its coders gave."""
    coincidence: Counter[tuple[float, float]] = Counter()
    for unit in units:
        m = len(unit)
        if m < 2:
            continue
        counts = Counter(unit)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nc - 1) if c == k else nc * nk
                if pairs:
                    coincidence[(c, k)] += pairs / (m - 1)
    if not coincidence:
        return None
    values = sorted({c for c, _ in coincidence})
    n_c = {v: sum(coincidence[(v, k)] for k in values) for v in values}
    n = sum(n_c.values())
    if n <= 1:
        return None
    index = {v: i for i, v in enumerate(values)}
    cumulative = [0.0]
    for v in values:
        cumulative.append(cumulative[-1] + n_c[v])

    def delta2(c: float, k: float) -> float:
        lo, hi = sorted((index[c], index[k]))
        between = cumulative[hi + 1] - cumulative[lo]
        return (between - (n_c[c] + n_c[k]) / 2) ** 2

    observed = sum(o * delta2(c, k) for (c, k), o in coincidence.items())
    expected = sum(n_c[c] * n_c[k] * delta2(c, k) for c in values for k in values) / (n - 1)
    if expected == 0:
        return None
    return 1 - observed / expected


def tiers_equal(a: Tiers, b: Tiers) -> bool:
    return [set(t) for t in a] == [set(t) for t in b]


# ---------------------------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class RankingRow:
    """What the summary needs of one ranking."""

    task_id: int
    user_id: int
    guideline_version: int
    tiers: list[list[int]]
    created_at: datetime
    is_gold: bool = False
    gold_answer: list[list[int]] | None = None


@dataclass(frozen=True)
class Comparison:
    user_a: int
    user_b: int
    version: int | None  # the shared guideline version, None when the two differ
    day: date
    agree: int
    pairs: int
    tau: float | None


class _Pool:
    def __init__(self) -> None:
        self.agree = self.pairs = self.comparisons = 0
        self.taus: list[float] = []

    def add(self, c: Comparison) -> None:
        self.agree += c.agree
        self.pairs += c.pairs
        self.comparisons += 1
        if c.tau is not None:
            self.taus.append(c.tau)

    def as_dict(self) -> dict:
        return {
            "pairwise_agreement": _ratio(self.agree, self.pairs),
            "kendall_tau_b": _round(sum(self.taus) / len(self.taus)) if self.taus else None,
            "comparisons": self.comparisons,
            "answer_pairs": self.pairs,
        }


def _ratio(a: int, b: int) -> float | None:
    return _round(a / b) if b else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _compare(a: RankingRow, b: RankingRow) -> Comparison:
    agree, pairs = pair_agreement(a.tiers, b.tiers)
    return Comparison(
        user_a=a.user_id,
        user_b=b.user_id,
        version=a.guideline_version if a.guideline_version == b.guideline_version else None,
        day=max(a.created_at, b.created_at).date(),
        agree=agree,
        pairs=pairs,
        tau=tau_b_tiers(a.tiers, b.tiers),
    )


def _alpha(by_task: dict[int, list[RankingRow]]) -> float | None:
    units: list[list[int]] = []
    for rows in by_task.values():
        if len(rows) < 2:
            continue
        values: dict[int, list[int]] = defaultdict(list)
        for row in rows:
            for cid, rank in competition_ranks(row.tiers).items():
                values[cid].append(rank)
        units.extend(values[cid] for cid in sorted(values))
    return _round(krippendorff_alpha_ordinal(units))


def agreement_summary(rows: Iterable[RankingRow]) -> dict:
    """Overall, per guideline version, per labeler and per day figures from rankings (see module doc)."""
    by_task: dict[int, list[RankingRow]] = defaultdict(list)
    gold: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # agree, pairs, exact, rankings
    rankings_per_user: Counter[int] = Counter()
    for row in rows:
        if not row.tiers:
            continue
        rankings_per_user[row.user_id] += 1
        if row.is_gold:
            if row.gold_answer:
                agree, pairs = pair_agreement(row.tiers, row.gold_answer)
                stats = gold[row.user_id]
                stats[0] += agree
                stats[1] += pairs
                stats[2] += tiers_equal(row.tiers, row.gold_answer)
                stats[3] += 1
            continue
        by_task[row.task_id].append(row)

    overall, per_user, per_day = _Pool(), defaultdict(_Pool), defaultdict(_Pool)
    per_version: dict[int, _Pool] = defaultdict(_Pool)
    versions_by_task: dict[int, dict[int, list[RankingRow]]] = defaultdict(lambda: defaultdict(list))
    multi_tasks = 0
    for task_id in sorted(by_task):
        task_rows = sorted(by_task[task_id], key=lambda r: (r.user_id, r.created_at))
        for row in task_rows:
            versions_by_task[row.guideline_version][task_id].append(row)
        if len(task_rows) >= 2:
            multi_tasks += 1
        for a, b in combinations(task_rows, 2):
            if a.user_id == b.user_id:
                continue
            comparison = _compare(a, b)
            overall.add(comparison)
            per_user[a.user_id].add(comparison)
            per_user[b.user_id].add(comparison)
            per_day[comparison.day].add(comparison)
            if comparison.version is not None:
                per_version[comparison.version].add(comparison)

    tasks_of: dict[int, set[int]] = defaultdict(set)
    for task_id, task_rows in by_task.items():
        if len({r.user_id for r in task_rows}) >= 2:
            for row in task_rows:
                tasks_of[row.user_id].add(task_id)
    labelers = []
    for user_id in sorted(set(rankings_per_user) | set(per_user) | set(gold)):
        g = gold.get(user_id, [0, 0, 0, 0])
        labelers.append(
            {
                "user_id": user_id,
                "rankings": rankings_per_user[user_id],
                **per_user[user_id].as_dict(),
                "krippendorff_alpha": _alpha({t: by_task[t] for t in sorted(tasks_of[user_id])}),
                "gold_rankings": g[3],
                "gold_accuracy": _ratio(g[0], g[1]),
                "gold_exact": _ratio(g[2], g[3]),
            }
        )
    gold_total = [sum(g[i] for g in gold.values()) for i in range(4)]
    return {
        "overall": {
            **overall.as_dict(),
            "krippendorff_alpha": _alpha(by_task),
            "tasks_with_several_labelers": multi_tasks,
            "gold_rankings": gold_total[3],
            "gold_accuracy": _ratio(gold_total[0], gold_total[1]),
        },
        "by_guideline_version": [
            {
                "guideline_version": version,
                **per_version[version].as_dict(),
                "krippendorff_alpha": _alpha(versions_by_task[version]),
            }
            for version in sorted(set(per_version) | set(versions_by_task))
        ],
        "labelers": labelers,
        "trend": [{"day": day.isoformat(), **per_day[day].as_dict()} for day in sorted(per_day)],
    }


# ---------------------------------------------------------------------------------------------- database


def _ranking_rows(rankings: QuerySet[Ranking]) -> Iterable[RankingRow]:
    fields = (
        "task_id",
        "user_id",
        "guideline__version",
        "tiers",
        "created_at",
        "task__is_gold",
        "task__gold_answer",
    )
    for values in rankings.filter(unrankable=False).values_list(*fields).iterator(chunk_size=5000):
        yield RankingRow(*values)


def project_rankings(
    project: Project | int,
    *,
    guideline_versions: Sequence[int] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Ranking]:
    project_id = project.pk if isinstance(project, Project) else project
    rankings = Ranking.objects.filter(task__project_id=project_id)
    if guideline_versions:
        rankings = rankings.filter(guideline__version__in=list(guideline_versions))
    if date_from:
        rankings = rankings.filter(created_at__date__gte=date_from)
    if date_to:
        rankings = rankings.filter(created_at__date__lte=date_to)
    return rankings.order_by("task_id", "id")


def agreement_report(
    *,
    project: Project,
    guideline_versions: Sequence[int] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict:
    """The agreement figures of a project's rankings, optionally within versions and dates."""
    rows = _ranking_rows(
        project_rankings(project, guideline_versions=guideline_versions, date_from=date_from, date_to=date_to)
    )
    summary = agreement_summary(rows)
    names = dict(
        get_user_model()
        .objects.filter(pk__in=[row["user_id"] for row in summary["labelers"]])
        .values_list("pk", "username")
    )
    for row in summary["labelers"]:
        row["username"] = names.get(row["user_id"])
    return {"project": project.pk, **summary}


def labeler_quality(project: Project | int) -> dict[int, dict[str, float | None]]:
    """user id -> {"agreement", "gold_accuracy"} over the whole project, for export filters."""
    summary = agreement_summary(_ranking_rows(project_rankings(project)))
    return {
        row["user_id"]: {"agreement": row["pairwise_agreement"], "gold_accuracy": row["gold_accuracy"]}
        for row in summary["labelers"]
    }
