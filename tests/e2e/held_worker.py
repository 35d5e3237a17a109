"""A training run worked in a thread of the test process, held at one progress event until the test lets it go,
so a page can be watched mid-run."""

import threading

from django.db import connection

from rewardtrain.runs import services
from rewardtrain.runs.models import TrainingRun


class HeldWorker:
    """Trains a run in a thread, holding it after the `kind` event ("step", "samples", …) of step `step` until
    `release()`."""

    def __init__(self, monkeypatch, *, kind: str, step: int) -> None:
        self.reached, self.go = threading.Event(), threading.Event()
        self.result: TrainingRun | None = None
        original = services._Recorder.__call__

        def held(recorder, event):
            original(recorder, event)
            if event.kind == kind and event.step == step:
                self.reached.set()
                assert self.go.wait(120), "the test never released the run"

        monkeypatch.setattr(services._Recorder, "__call__", held)

    def start(self, run_id: int) -> None:
        def work() -> None:
            try:
                self.result = services.training_run_execute(run_id=run_id, worker="e2e")
            finally:
                self.reached.set()
                connection.close()

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def release(self) -> TrainingRun:
        self.go.set()
        self.thread.join(300)
        assert self.result is not None
        return self.result
