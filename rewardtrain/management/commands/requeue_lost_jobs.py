"""Send again the queued jobs whose message is gone, e.g. after the broker was down or restarted empty."""

from django.core.management.base import BaseCommand

from rewardtrain.lost_jobs.services import jobs_requeue_lost


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help="Seconds a job must have been queued (default: JOBS_REQUEUE_AFTER_SECONDS)",
        )

    def handle(self, *args, older_than: float | None = None, **options) -> None:
        sent = jobs_requeue_lost(older_than_s=older_than)
        for kind, ids in sent.items():
            self.stdout.write(f"{kind}: {len(ids)} sent again {ids if ids else ''}".rstrip())
