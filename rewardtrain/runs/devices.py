"""How many training processes a gpu worker may start: one per GPU.

The operator may say so with `ANNOTATE_WORKER_GPUS` (for example to give a worker part of a machine's GPUs, or
to run CPU ranks over gloo on a host without one); otherwise it is the number of CUDA devices the worker sees
(1 on a host without CUDA: one process on the CPU). `/readyz` reports each gpu worker's count.
"""

from django.conf import settings


class TooFewGpus(RuntimeError):
    """A run asks for more GPUs than the worker that took it has."""


def worker_gpus() -> int:
    if settings.ANNOTATE_WORKER_GPUS:
        return settings.ANNOTATE_WORKER_GPUS
    import torch  # workers only

    return max(1, torch.cuda.device_count())
