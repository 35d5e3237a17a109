"""A worker's local copy of stored artifacts, keyed by content hash, shared by its jobs and bounded in size.

A GPU job needs local paths (`rewardtrain/training/` never sees the store). It asks this cache for each input:
a file by (key, SHA-256), or a whole folder (a model, a snapshot) by its listing of files. A file already here
under that hash is used as it is (a hit costs a `stat`); otherwise it is downloaded, checked against its hash
and moved into place. Folders are hard links to the cached files, so a model shared by ten jobs is on disk
once. Past `max_bytes` the least recently used entries go first; the ones the current job asked for stay.

Several worker processes on one host may share the folder: a download takes a file lock per hash.
"""

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from annotate import storage


class CorruptArtifact(RuntimeError):
    """The bytes downloaded for a key do not have the hash its manifest gives."""


@dataclass(frozen=True)
class TreeFile:
    """One file of a folder artifact: where it goes in the folder, where it is stored, and its hash."""

    name: str
    key: str
    sha256: str


class ArtifactCache:
    def __init__(self, root: Path, max_bytes: int, min_idle_s: float = 0.0) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        # Entries used more recently than this are never evicted: another worker process on this host (or the
        # ranks of a torchrun group, which open their inputs after the parent staged them) may be reading them.
        self.min_idle_s = min_idle_s
        for sub in ("files", "trees", "locks", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def file(self, key: str, sha256: str) -> Path:
        """A local path holding the stored file `key`, whose content hash is `sha256`."""
        target = self.root / "files" / sha256[:2] / sha256
        if self._touch(target):
            self.hits += 1
            return target
        with self._locked(sha256):
            if self._touch(target):  # another process fetched it while we waited
                self.hits += 1
                return target
            self.misses += 1
            partial = storage.get_file(key, self.root / "tmp" / f"{sha256}.{os.getpid()}")
            got = storage.sha256_of(partial)
            if got != sha256:
                partial.unlink(missing_ok=True)
                raise CorruptArtifact(f"{key}: expected SHA-256 {sha256}, downloaded {got}")
            target.parent.mkdir(exist_ok=True)
            partial.replace(target)
        self.evict(keep=[target])
        return target

    def tree(self, files: Iterable[TreeFile]) -> Path:
        """A local folder holding `files` (a model's or a snapshot's), named by the hash of their listing."""
        listing = sorted(files, key=lambda f: f.name)
        for f in listing:
            name = PurePosixPath(f.name)
            if name.is_absolute() or ".." in name.parts or not f.name:
                raise ValueError(f"not a relative file name: {f.name!r}")
        digest = hashlib.sha256(json.dumps([[f.name, f.sha256] for f in listing]).encode()).hexdigest()
        target = self.root / "trees" / digest
        if self._touch(target):
            self.hits += 1
            return target
        with self._locked(digest):
            if self._touch(target):
                self.hits += 1
                return target
            self.misses += 1
            building = Path(tempfile.mkdtemp(prefix=f"{digest}.", dir=self.root / "tmp"))
            kept = []
            for f in listing:
                source = self.file(f.key, f.sha256)
                kept.append(source)
                dest = building / f.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(source, dest)
                except OSError:  # a filesystem without hard links
                    shutil.copyfile(source, dest)
            building.replace(target)
        self.evict(keep=[target, *kept])
        return target

    def usage(self) -> int:
        """Bytes on disk (a file linked into folders counts once)."""
        seen: set[tuple[int, int]] = set()
        total = 0
        for path in self._all_files():
            st = path.stat()
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
        return total

    def evict(self, keep: Iterable[Path] = ()) -> list[Path]:
        """Remove the least recently used entries until the cache fits `max_bytes`; never those in `keep`."""
        keep_set = {Path(p) for p in keep}
        removed: list[Path] = []
        usage = self.usage()
        while usage > self.max_bytes:
            victim = min(self._evictable(keep_set), key=lambda p: p.stat().st_mtime, default=None)
            if victim is None:
                break
            if victim.is_dir():
                shutil.rmtree(victim, ignore_errors=True)
            else:
                victim.unlink(missing_ok=True)
            removed.append(victim)
            usage = self.usage()
        return removed

    def _evictable(self, keep: set[Path]) -> Iterator[Path]:
        idle_since = time.time() - self.min_idle_s
        for entry in self._entries():
            st = entry.stat()
            # A cached file still linked into a folder frees nothing when removed (the folder goes first).
            linked = entry.is_file() and st.st_nlink > 1
            if entry not in keep and not linked and st.st_mtime <= idle_since:
                yield entry

    def _entries(self) -> Iterator[Path]:
        yield from (self.root / "trees").iterdir()
        for bucket in (self.root / "files").iterdir():
            yield from bucket.iterdir()

    def _all_files(self) -> Iterator[Path]:
        for sub in ("files", "trees"):
            yield from (p for p in (self.root / sub).rglob("*") if p.is_file())

    @staticmethod
    def _touch(path: Path) -> bool:
        """True when `path` is here; marks it used now (mtime: atime is often off on servers)."""
        try:
            now = time.time()
            os.utime(path, (now, now))
            return True
        except FileNotFoundError:
            return False

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        with (self.root / "locks" / name).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
