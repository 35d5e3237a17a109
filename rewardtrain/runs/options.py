"""What the run form offers: per run kind, the snapshot kinds it trains on, the model kinds it may start from (best
first), the reward-model kinds it is optimised against (RL) and its hyper-parameters (the training config's fields,
typed, with their defaults and docstrings)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
from functools import cache
from typing import Any

from rewardtrain.runs.models import ModelKind, RunKind
from rewardtrain.snapshots.models import SnapshotKind
from rewardtrain.training.config import DPOConfig, RLConfig, RMConfig, SFTConfig, TrainConfig

CONFIGS: dict[str, type[TrainConfig]] = {
    RunKind.SFT: SFTConfig,
    RunKind.RM: RMConfig,
    RunKind.DPO: DPOConfig,
    RunKind.RL: RLConfig,
}
SNAPSHOT_KINDS = {
    RunKind.SFT: (SnapshotKind.SFT,),
    RunKind.RM: (SnapshotKind.KWISE, SnapshotKind.PAIRWISE),
    RunKind.DPO: (SnapshotKind.PAIRWISE, SnapshotKind.KWISE),
    RunKind.RL: (SnapshotKind.PROMPTS,),
}
# The model kinds a run may start from, best first. SFT, DPO and RL train a language model: a reward model (a
# scalar head on a backbone, no language-model head to train) is no start for them. A reward model starts best
# from the SFT model (InstructGPT), or continues from an earlier reward model. RL starts best from the SFT model
# (InstructGPT's stage three), or continues an earlier policy.
BASE_MODEL_KINDS = {
    RunKind.SFT: (ModelKind.BASE, ModelKind.SFT, ModelKind.POLICY),
    RunKind.DPO: (ModelKind.SFT, ModelKind.POLICY, ModelKind.BASE),
    RunKind.RM: (ModelKind.SFT, ModelKind.BASE, ModelKind.RM, ModelKind.POLICY),
    RunKind.RL: (ModelKind.SFT, ModelKind.POLICY, ModelKind.BASE),
}
# The run kinds optimised against a registered reward model (a required choice of the form), and its kinds.
REWARD_MODEL_KINDS = {RunKind.RL: (ModelKind.RM,)}
# Set by the run itself, never by the request (a DPO or RL run's reference is always its base model; an RL run's
# reward model is the registered model it names, located by the worker, never a path).
# `lora_merge`: a run's model is always saved merged, a plain folder any worker loads; an adapter folder would
# name the base model's path on the worker that trained it.
RESERVED_PARAMS = frozenset(
    {
        "data",
        "model",
        "out",
        "gguf_file",
        "eval_data",
        "resume",
        "device",
        "ref_model",
        "reward_model",
        "lora_merge",
    }
)
# Where the app's default differs from the trainer's: an RL run shows its answers and its held-out reward
# (also before the first step) unless told otherwise. The form shows these defaults; the worker applies them.
APP_DEFAULTS: dict[str, dict[str, object]] = {RunKind.RL: {"sample_every": 10, "eval_every": 10}}
# Shown as form fields; the others stay reachable through the form's "advanced" JSON.
COMMON_PARAMS = (
    "lr",
    "epochs",
    "max_steps",
    "batch_size",
    "max_length",
    "eval_every",
    "beta",
    "lora_r",
    "freeze_layers",
    "prefix_sharing",
    "samples_per_prompt",
    "estimator",
    "kl_coef",
    "kl_target",
    "max_new_tokens",
    "sample_every",
)
# Common fields a kind does not offer as form fields (RL trains every weight: `range_errors` refuses LoRA).
NOT_COMMON = {RunKind.RL: frozenset({"lora_r"})}
# Fields the config leaves without a docstring.
_HELP = {
    "lr": "Peak learning rate, after warm-up; a cosine decay follows.",
    "epochs": "Passes over the training split (max_steps > 0 overrides it).",
    "seed": "Seed of shuffling and initialisation.",
    "weight_decay": "AdamW weight decay.",
    "gradient_checkpointing": "Recompute activations in the backward pass: less memory, slower steps.",
    "log_every": "Record the training metrics every N steps.",
    "max_new_tokens": "Most tokens of one sampled answer (an answer cut here has not ended).",
    "temperature": "Sampling temperature of the answers (log-probabilities are taken at it too).",
    "top_p": "Nucleus sampling of the answers (1: off).",
}
_TYPES = {"bool": "boolean", "int": "integer", "float": "number", "str": "string"}


@cache
def _docstrings(cls: type) -> dict[str, str]:
    """Field docstrings (the string literal under a field) of a config dataclass and its bases."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        body = ast.parse(inspect.getsource(klass)).body[0].body  # type: ignore[attr-defined]
        for field, doc in itertools.pairwise(body):
            is_doc = isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
            if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name) and is_doc:
                out[field.target.id] = " ".join(str(doc.value.value).split())  # type: ignore[attr-defined]
    return out


def _field(
    cls: type, field: dataclasses.Field, defaults: dict[str, object], common: set[str]
) -> dict[str, Any]:
    annotation = str(field.type).replace(" ", "")
    nullable = annotation.endswith("|None")
    return {
        "name": field.name,
        "type": _TYPES[annotation.removesuffix("|None")],
        "nullable": nullable,
        "default": defaults.get(field.name, field.default),
        "common": field.name in common,
        "help": _docstrings(cls).get(field.name) or _HELP.get(field.name, ""),
    }


def hyperparam_fields(kind: str) -> list[dict[str, Any]]:
    """The hyper-parameters a run of this kind accepts, the common ones first in `COMMON_PARAMS`' order."""
    cls, defaults = CONFIGS[kind], APP_DEFAULTS.get(kind, {})
    common = set(COMMON_PARAMS) - NOT_COMMON.get(kind, frozenset())
    fields = [
        _field(cls, f, defaults, common) for f in dataclasses.fields(cls) if f.name not in RESERVED_PARAMS
    ]
    order = {name: i for i, name in enumerate(COMMON_PARAMS)}
    return sorted(fields, key=lambda f: (order.get(f["name"], len(order)), f["name"]))


def run_options() -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "label": RunKind(kind).label,
            "snapshot_kinds": list(SNAPSHOT_KINDS[kind]),
            "base_model_kinds": list(BASE_MODEL_KINDS[kind]),
            "reward_model_kinds": list(REWARD_MODEL_KINDS.get(kind, ())),
            "hyperparams": hyperparam_fields(kind),
        }
        for kind in RunKind.values
    ]
