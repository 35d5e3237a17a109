"""Model references, and the one function that turns a reference into something a loader may open.

A registered model is an artifact reference, never a host path that a project admin typed:

    hub:<owner>/<name>             a Hugging Face hub name (loaded from the local cache when offline)
    root:<root>[/<relative path>]  a directory under one of the operator's `ANNOTATE_MODEL_ROOTS`
    run:<manifest key>             a training run's model in the store (`rewardtrain/staging.py`), recorded by
                                   the run service (never typed); rows from before the store: its output folder

Registration and every loader (suggestions, generation, scoring, training) call `model_locate`, so what a
worker opens is checked when it opens it: a symlink swapped after registration is refused then. A path that
does not exist and a path that leaves its root get the same answer, so an admin cannot probe the host's files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings

from annotate import storage
from labeling.services.errors import FieldError, ValidationFailed, invalid
from rewardtrain.runs.models import ModelSource, RegisteredModel
from rewardtrain.staging import model_stage

HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
NOT_FOUND = "model_not_found"


@dataclass(frozen=True)
class ModelRef:
    source: str
    path: str
    root: str = ""
    gguf_file: str = ""

    @classmethod
    def of(cls, model: RegisteredModel) -> ModelRef:
        return cls(source=model.source, path=model.path, root=model.root, gguf_file=model.gguf_file)

    def __str__(self) -> str:
        if self.source == ModelSource.ROOT:
            return f"root:{self.root}" + ("" if self.path == "." else f"/{self.path}")
        return f"{self.source}:{self.path}"

    @classmethod
    def parse(cls, reference: str, gguf_file: str = "") -> ModelRef:
        """The reference `str()` wrote (a suggestion keeps it so its worker resolves the model again)."""
        source, _, rest = reference.partition(":")
        if source == ModelSource.ROOT:
            root, _, path = rest.partition("/")
            return cls(source=source, root=root, path=path or ".", gguf_file=gguf_file)
        if source in (ModelSource.HUB, ModelSource.RUN):
            return cls(source=source, path=rest, gguf_file=gguf_file)
        raise invalid(
            "Model not found",
            FieldError("not a model reference; register the model again", "path"),
            code=NOT_FOUND,
        )


@dataclass(frozen=True)
class LocatedModel:
    """What the training package's loaders take: a hub name or a resolved local directory, and a GGUF file
    relative to it."""

    path: str
    gguf_file: str | None = None


def model_root_names() -> list[str]:
    return sorted(settings.ANNOTATE_MODEL_ROOTS)


def normalize_relpath(path: str) -> str:
    """`a//b/./c` → `a/b/c`; the root itself is `.`. (`..` is left for `model_locate` to judge.)"""
    return str(PurePosixPath(path.strip() or "."))


def model_ref_check(ref: ModelRef) -> list[FieldError]:
    """The reference's form, without touching the filesystem (so its answers say nothing about files)."""
    errors = []
    if ref.source == ModelSource.HUB:
        if not HUB_NAME.match(ref.path) or ".." in ref.path:
            errors.append(
                FieldError("must be a hub name like owner/model (letters, digits, '-', '_', '.')", "path")
            )
    elif ref.source == ModelSource.ROOT:
        roots = model_root_names()
        if not ref.root:
            errors.append(
                FieldError(
                    "registered by host path before model roots existed; register it under a model root",
                    "root",
                )
            )
        elif ref.root not in roots:
            known = ", ".join(roots) if roots else "none: the operator sets ANNOTATE_MODEL_ROOTS"
            errors.append(FieldError(f"no model root named {ref.root!r} (configured: {known})", "root"))
        if "\x00" in ref.path or PurePosixPath(ref.path).is_absolute():
            errors.append(
                FieldError("must be a directory relative to the model root, not an absolute path", "path")
            )
    elif ref.source == ModelSource.RUN:
        if not _legacy_run_path(ref):
            try:
                storage.clean_key(ref.path)
            except storage.BadKey:
                errors.append(FieldError("must be a stored model's manifest key", "path"))
    else:
        errors.append(FieldError(f"unknown model source {ref.source!r}", "source"))
    gguf = PurePosixPath(ref.gguf_file)
    # Under a root, `..` is judged by resolution (so it is answered like a missing file); a hub has no files here.
    escapes = ".." in gguf.parts and ref.source != ModelSource.ROOT
    if ref.gguf_file and ("\x00" in ref.gguf_file or gguf.is_absolute() or escapes):
        errors.append(FieldError("must be a file name inside the model directory", "gguf_file"))
    return errors


def _legacy_run_path(ref: ModelRef) -> bool:
    """A run's model registered before models were stored: its output folder on the host that trained it."""
    return ref.source == ModelSource.RUN and PurePosixPath(ref.path).is_absolute()


def _not_found(message: str, field: str) -> ValidationFailed:
    return invalid("Model not found", FieldError(message, field), code=NOT_FOUND)


def _inside(base: Path, relative: str) -> Path | None:
    """`base/relative` with every symlink resolved, or None when it leaves `base` (or cannot be resolved)."""
    try:
        resolved = (base / relative).resolve(strict=False)
    except (OSError, RuntimeError, ValueError):
        return None
    return resolved if resolved.is_relative_to(base) else None


def _exists(path: Path | None, *, directory: bool) -> bool:
    try:
        return path is not None and (path.is_dir() if directory else path.is_file())
    except OSError:  # a directory we may not read is as absent as one that is not there
        return False


def model_locate(ref: ModelRef) -> LocatedModel:
    """Check `ref` and find it now. A root's directory (and its GGUF file) must resolve, symlinks included,
    inside the root; otherwise the answer is the same as for a path that does not exist."""
    errors = model_ref_check(ref)
    if errors:
        raise invalid("Invalid model", *errors)
    if ref.source == ModelSource.RUN:
        if _legacy_run_path(ref):
            return LocatedModel(ref.path, ref.gguf_file or None)
        try:  # one request for the manifest, which says what to stage
            return LocatedModel(str(model_stage(ref.path)), ref.gguf_file or None)
        except FileNotFoundError:
            raise _not_found(f"no stored model {ref.path!r}", "path") from None
    if ref.source == ModelSource.HUB:
        # transformers opens a name that is also a relative path of the worker's directory as a local model.
        if os.path.lexists(ref.path):
            raise _not_found(f"no model named {ref.path!r} on the hub", "path")
        return LocatedModel(ref.path, ref.gguf_file or None)
    root = Path(settings.ANNOTATE_MODEL_ROOTS[ref.root]).resolve()
    directory = _inside(root, ref.path)
    if not _exists(directory, directory=True):
        raise _not_found(f"no model directory named {ref.path!r} under root {ref.root!r}", "path")
    if not ref.gguf_file:
        return LocatedModel(str(directory))
    gguf = _inside(directory, ref.gguf_file)
    if not _exists(gguf, directory=False):
        raise _not_found(
            f"no file named {ref.gguf_file!r} in model directory {ref.path!r} under root {ref.root!r}",
            "gguf_file",
        )
    return LocatedModel(str(directory), str(gguf.relative_to(directory)))


def registered_model_locate(model: RegisteredModel) -> LocatedModel:
    """Where a worker loads a registered model from, checked at the moment it loads it."""
    return model_locate(ModelRef.of(model))
