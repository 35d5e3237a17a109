"""Staging a snapshot from an S3-compatible store: upload MiB/s, then a worker's cache miss and hit.

Starts moto's S3 server (a separate process, as the tests do), stores a synthetic snapshot of `--mb` MiB of JSONL
(train + validation) through the storage layer, then stages it with `rewardtrain.staging.snapshot_stage` twice
into an empty cache: the first is a miss (download, SHA-256 check, hard links), the second a hit (no request to
the store). Needs no database. Ends with one JSON line.

    .venv/bin/python bench/storage.py --mb 200
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def write_split(path: Path, mb: float) -> None:
    line = json.dumps({"prompt": "p " * 40, "responses": ["an answer " * 30] * 4, "ranking": [0, 1, 2, 3]})
    lines = max(1, int(mb * 1024 * 1024 / (len(line) + 1)))
    with path.open("w") as fh:
        for i in range(lines):
            fh.write(line.replace('"p ', f'"{i} ', 1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100, help="size of train.jsonl (validation: a tenth)")
    args = parser.parse_args()

    from annotate.tests.s3_server import running_s3_server

    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp_name:
        tmp = Path(tmp_name)
        with running_s3_server(tmp / "moto.log") as server:
            server.client().create_bucket(Bucket="bench")
            os.environ.update(server.env("bench", "annotate"))
            os.environ["ANNOTATE_CACHE_DIR"] = str(tmp / "cache")
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotate.settings")
            import django

            django.setup()
            from annotate import storage
            from rewardtrain.snapshots.models import Snapshot
            from rewardtrain.staging import snapshot_stage, worker_cache

            snapshot = Snapshot(pk=1, project_id=1, version=1)
            local = tmp / "snapshot"
            local.mkdir()
            write_split(local / "train.jsonl", args.mb)
            write_split(local / "validation.jsonl", args.mb / 10)
            files, total = {}, 0
            started = time.perf_counter()
            for path in sorted(local.iterdir()):
                stored = storage.put_file(f"{snapshot.relative_dir}/{path.name}", path)
                files[path.name] = {"bytes": stored.size, "sha256": stored.sha256}
                total += stored.size
            upload_s = time.perf_counter() - started
            snapshot.manifest = {"files": files}

            started = time.perf_counter()
            staged = snapshot_stage(snapshot)
            miss_s = time.perf_counter() - started
            started = time.perf_counter()
            assert snapshot_stage(snapshot) == staged
            hit_s = time.perf_counter() - started
            cache = worker_cache()
            assert (cache.hits, cache.misses) == (1, 3), (cache.hits, cache.misses)

    mb = total / 1024 / 1024  # MiB
    result = {
        "snapshot_mib": round(mb, 1),
        "upload_s": round(upload_s, 3),
        "upload_mib_s": round(mb / upload_s, 1),
        "stage_miss_s": round(miss_s, 3),
        "stage_miss_mib_s": round(mb / miss_s, 1),
        "stage_hit_ms": round(hit_s * 1000, 2),
    }
    print(
        f"{mb:.0f} MiB snapshot: upload {result['upload_mib_s']} MiB/s; stage miss {miss_s:.2f}s "
        f"({result['stage_miss_mib_s']} MiB/s, download + SHA-256 + links), hit {result['stage_hit_ms']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
