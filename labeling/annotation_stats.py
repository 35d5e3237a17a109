"""Figures over all annotation kinds at once, computed in the database.

The dashboard and a labeler's own figures used to fetch every annotation's `seconds_spent` of the project (one
query per kind) to take a median in Python: rows and time grew with the project on every poll. Here the kinds
are one `UNION ALL`, medians are `percentile_cont(0.5)` on PostgreSQL (the same definition as
`statistics.median`), and per-hour counts are grouped in SQL. SQLite (the embedded demo) has no
`percentile_cont`: there the seconds are fetched and the median taken in Python, as before.
"""

from datetime import datetime
from statistics import median

from django.db import connection


def annotation_models() -> tuple:
    from labeling.models import Demonstration, Dialogue, Ranking, WrittenPrompt

    return (Ranking, Demonstration, WrittenPrompt, Dialogue)


def _union(where: str) -> str:
    """Every annotation of one project (`%s` = project id, then whatever `where` binds), as one relation."""
    branches = [
        f'SELECT a.user_id, a.seconds_spent, a.created_at FROM "{m._meta.db_table}" a '
        f"JOIN labeling_task t ON t.id = a.task_id WHERE t.project_id = %s {where}"
        for m in annotation_models()
    ]
    return " UNION ALL ".join(branches)


def _db_time(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def labeler_figures(user_id: int, project_id: int, since: datetime) -> tuple[int, int, float | None]:
    """(annotations since `since`, annotations in all, median seconds per annotation) of one labeler."""
    rows = _union("AND a.user_id = %s")
    params = [project_id, user_id] * len(annotation_models())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FILTER (WHERE created_at >= %s), count(*), "
                f"percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_spent) FROM ({rows}) x",
                [_db_time(since), *params],
            )
            recent, total, middle = cursor.fetchone()
            return recent, total, middle
        cursor.execute(f"SELECT created_at >= %s, seconds_spent FROM ({rows}) x", [_db_time(since), *params])
        found = cursor.fetchall()
    seconds = [spent for _, spent in found]
    return sum(1 for recent, _ in found if recent), len(seconds), (median(seconds) if seconds else None)


def median_seconds_by_user(project_id: int) -> dict[int, float]:
    """Median seconds per annotation of each labeler of a project."""
    rows = _union("")
    params = [project_id] * len(annotation_models())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT user_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_spent) "
                f"FROM ({rows}) x GROUP BY user_id",
                params,
            )
            return dict(cursor.fetchall())
        cursor.execute(f"SELECT user_id, seconds_spent FROM ({rows}) x", params)
        seconds: dict[int, list[float]] = {}
        for user_id, spent in cursor.fetchall():
            seconds.setdefault(user_id, []).append(spent)
    return {user_id: median(values) for user_id, values in seconds.items()}


def annotations_per_hour(project_id: int, since: datetime) -> dict[datetime, int]:
    """Annotations of a project per hour (UTC, truncated) from `since` on."""
    from django.db.models import Count
    from django.db.models.functions import TruncHour

    counts: dict[datetime, int] = {}
    for model in annotation_models():
        grouped = (
            model.objects.filter(task__project_id=project_id, created_at__gte=since)
            .annotate(hour=TruncHour("created_at"))
            .values("hour")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in grouped:
            counts[row["hour"]] = counts.get(row["hour"], 0) + row["n"]
    return counts
