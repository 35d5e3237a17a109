"""Fixtures every test folder may use."""

pytest_plugins = [
    # An S3-compatible server (moto, a separate process) and the storage layer pointed at it.
    "annotate.tests.s3_server",
    # `eager_celery`: queued tasks run in-process.
    "annotate.tests.eager_celery",
    # `model_root`: the operator's model root `pytest` (pytest's temporary directory) for registering models.
    "rewardtrain.runs.tests.roots",
]
