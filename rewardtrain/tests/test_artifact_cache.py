"""A worker's content-addressed cache of stored artifacts, against a real S3-compatible server."""

import hashlib
import os
import time

import pytest

from annotate import storage
from rewardtrain.artifact_cache import ArtifactCache, CorruptArtifact, TreeFile


def _stored(key: str, data: bytes) -> tuple[str, str]:
    storage.put_bytes(key, data)
    return key, hashlib.sha256(data).hexdigest()


def test_a_file_is_fetched_once_then_reused(s3_storage, tmp_path):
    cache = ArtifactCache(tmp_path / "cache", max_bytes=10**9)
    key, sha = _stored("snapshots/1/1/pairs.train.jsonl", b'{"chosen": "a"}\n' * 1000)
    first = cache.file(key, sha)
    assert first.read_bytes() == b'{"chosen": "a"}\n' * 1000
    assert (cache.hits, cache.misses) == (0, 1)
    storage.delete(key)  # a hit never asks the store
    assert cache.file(key, sha) == first and (cache.hits, cache.misses) == (1, 1)
    # Another worker process on the same host shares the folder.
    assert ArtifactCache(tmp_path / "cache", max_bytes=10**9).file(key, sha) == first


def test_bytes_that_do_not_match_their_hash_are_refused(s3_storage, tmp_path):
    cache = ArtifactCache(tmp_path / "cache", max_bytes=10**9)
    key, _ = _stored("models/3/model.safetensors", b"tampered")
    with pytest.raises(CorruptArtifact, match="expected SHA-256"):
        cache.file(key, hashlib.sha256(b"original").hexdigest())
    assert cache.usage() == 0 and not list((tmp_path / "cache" / "tmp").iterdir())


def test_a_folder_is_built_from_cached_files_once(s3_storage, tmp_path):
    cache = ArtifactCache(tmp_path / "cache", max_bytes=10**9)
    weights = os.urandom(200_000)
    files = [
        TreeFile("config.json", *_stored("models/5/config.json", b"{}")),
        TreeFile("model.safetensors", *_stored("models/5/model.safetensors", weights)),
        TreeFile("tokenizer/tokenizer.json", *_stored("models/5/tokenizer/tokenizer.json", b'{"v": 1}')),
    ]
    folder = cache.tree(files)
    assert (folder / "model.safetensors").read_bytes() == weights
    assert (folder / "tokenizer" / "tokenizer.json").read_bytes() == b'{"v": 1}'
    assert cache.tree(reversed(files)) == folder  # same listing, same folder
    # Linked, not copied: the weights are on disk once.
    assert 200_000 <= cache.usage() < 210_000
    with pytest.raises(ValueError, match="relative"):
        cache.tree([TreeFile("../escape", *_stored("models/5/x", b"x"))])


def test_least_recently_used_goes_first_and_the_current_inputs_stay(s3_storage, tmp_path):
    cache = ArtifactCache(tmp_path / "cache", max_bytes=250_000)
    a = cache.file(*_stored("a.bin", os.urandom(100_000)))
    b = cache.file(*_stored("b.bin", os.urandom(100_000)))
    past = time.time() - 60
    os.utime(b, (past, past))
    os.utime(a, (past + 1, past + 1))
    cache.file("a.bin", hashlib.sha256(a.read_bytes()).hexdigest())  # a used again: b is now the oldest
    c = cache.file(*_stored("c.bin", os.urandom(100_000)))
    assert a.exists() and c.exists() and not b.exists()
    assert cache.usage() <= 250_000
    # An input larger than the bound is still kept for the job that asked for it.
    big = cache.file(*_stored("big.bin", os.urandom(300_000)))
    assert big.exists() and not a.exists() and not c.exists()


def test_eviction_spares_recent_entries_and_files_still_linked_into_a_folder(s3_storage, tmp_path):
    cache = ArtifactCache(tmp_path / "cache", max_bytes=150_000, min_idle_s=300)
    weights = cache.tree([TreeFile("model.safetensors", *_stored("m.bin", os.urandom(100_000)))])
    past = time.time() - 3600
    for path in (weights, *(tmp_path / "cache" / "files").rglob("*")):
        os.utime(path, (past, past))
    in_use = cache.file(*_stored("fresh.bin", os.urandom(100_000)))  # read just now by another job
    other = cache.file(*_stored("other.bin", os.urandom(100_000)))
    # Over the bound: the idle folder goes, then the file it linked (alone it would have freed nothing); the
    # entries used within min_idle_s stay even though the cache is still over.
    assert not weights.exists() and in_use.exists() and other.exists()
    assert sorted(p for p in (tmp_path / "cache" / "files").rglob("*") if p.is_file()) == sorted(
        [in_use, other]
    )
    assert cache.usage() == 200_000
