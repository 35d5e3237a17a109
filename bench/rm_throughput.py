"""Reward-model training throughput: K-wise batching vs. the pairwise export vs. TRL's RewardTrainer.

    python bench/rm_throughput.py --k 4
    python bench/rm_throughput.py --k 8
    python bench/rm_throughput.py --k 4 --device cuda --model Qwen/Qwen2.5-0.5B --prompts 512   # on a GPU host

The same reward model is trained for one epoch on the same synthetic rankings three ways:

* ``kwise``: our ``train_rm`` on the K-wise records; one batch element is a prompt with its K answers, all
  in one forward pass (K sequences for C(K,2) pairs);
* ``pairwise``: our ``train_rm`` on the pairwise export of those rankings, one pair per batch element
  (2 sequences per pair, like every pairwise trainer);
* ``trl``: TRL's ``RewardTrainer`` (with a ``RewardConfig``) on the same pairwise export.

All three use the same backbone (same initial weights), sequence length, precision (fp32 on CPU, bf16
autocast on CUDA), AdamW settings, warm-up + cosine schedule, gradient clipping, no gradient checkpointing
(``RewardConfig`` defaults to it; it is turned off here) and the same number of comparison pairs per
optimizer step (``--prompts-per-step`` x C(K,2)); so they take the same number of steps.
Throughput is comparison pairs trained per second of the training loop, from its start to the end of its
last step, measured the same way for all three (model loading, tokenisation and evaluation are excluded).
On CPU it is also given per second of this process's CPU time, which other load on a shared machine
disturbs much less than the wall clock (use ``--threads 1`` there). Validation accuracy is pairwise accuracy over every (better, worse) pair of
held-out rankings, computed the same way for all three.

The rankings carry a planted preference: every answer holds one "quality word" and the ranking follows it,
so a model that learns the task gets high accuracy. By default the backbone is a Llama built from a config
(hidden 256, 4 layers) with a locally trained tokenizer, so nothing is downloaded; ``--model`` takes a hub
name or local directory of a bigger causal LM instead. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUALITY = ["superb", "excellent", "great", "good", "fine", "mediocre", "poor", "awful", "terrible", "useless"]
# filler vocabulary: 120 pseudo-words (syllable pairs), none of them a quality word
WORDS = [
    a + b
    for a in ("ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zu", "pe")
    for b in ("ba", "de", "fi", "go", "ku", "le", "mo", "pi", "ra", "su", "ti", "wo")
]
WORDS = [w for w in WORDS if w not in QUALITY]


# --------------------------------------------------------------------------- data


def make_rankings(
    n_prompts: int, k: int, seed: int, prompt_words: int, answer_words: int
) -> list[dict[str, Any]]:
    """K-wise records: each answer holds one quality word; its rank in ``QUALITY`` is the answer's tier."""
    if k > len(QUALITY):
        raise ValueError(f"--k must be <= {len(QUALITY)}")
    rng = random.Random(seed)
    records = []
    for i in range(n_prompts):
        prompt = "question: " + " ".join(rng.choices(WORDS, k=prompt_words)) + "?\nanswer:"
        levels = sorted(rng.sample(range(len(QUALITY)), k))  # k distinct quality levels, best first
        cands = []
        for tier, level in enumerate(levels):
            words = rng.choices(WORDS, k=answer_words)
            words.insert(rng.randrange(len(words) + 1), QUALITY[level])
            cands.append({"id": f"{i}-{tier}", "text": " " + " ".join(words), "tier": tier})
        rng.shuffle(cands)
        records.append({"prompt": prompt, "prompt_id": i, "candidates": cands})
    return records


def pairwise_export(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every (better, worse) pair of every ranking as one TRL-standard record (no ``prompt_id``: one pair
    per batch element)."""
    out = []
    for rec in records:
        for a, b in itertools.permutations(rec["candidates"], 2):
            if a["tier"] < b["tier"]:
                out.append({"prompt": rec["prompt"], "chosen": a["text"], "rejected": b["text"]})
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def build_backbone(out: Path, hidden: int, layers: int, seed: int) -> None:
    """A Llama built from a config (no download) + a byte-level BPE trained on the benchmark's words."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from rewardtrain.training.tiny import build_tiny_tokenizer

    corpus = [
        " ".join(WORDS),
        " ".join(QUALITY),
        "question: answer: ?",
        *[w + " " + w for w in WORDS + QUALITY],
    ]
    tok = build_tiny_tokenizer(corpus, vocab_size=1024, chat_template=False)
    tok.add_special_tokens({"pad_token": "<|pad|>"})
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 64),
        max_position_embeddings=512,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)


# --------------------------------------------------------------------------- the three trainers


def _mark(device: str) -> tuple[float, float]:
    """(wall clock, this process's CPU time); CUDA work is waited for first."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    return time.monotonic(), time.process_time()


def _loop_times(marks: list[tuple[float, float]]) -> dict[str, Any]:
    """Wall and CPU seconds of the training loop: from its start to the end of its last step."""
    return {
        "seconds": marks[-1][0] - marks[0][0],
        "cpu_seconds": marks[-1][1] - marks[0][1],
        "step_seconds": [b[0] - a[0] for a, b in itertools.pairwise(marks)],
    }


def run_ours(
    name: str, data_dir: Path, out: Path, args: argparse.Namespace, batch_size: int, warmup: int, pairs: int
) -> dict[str, Any]:
    from rewardtrain.training import RMConfig, train_rm

    config = RMConfig(
        data=str(data_dir),
        model=args.model_dir,
        out=str(out),
        seed=args.seed,
        max_length=args.max_length,
        batch_size=batch_size,
        epochs=1.0,
        lr=args.lr,
        warmup_steps=warmup,
        adam_beta2=0.95,
        weight_decay=0.0,
        max_grad_norm=1.0,
        bf16=True,
        deterministic=args.deterministic,
        device=args.device,
        log_every=1,
        resume="no",
    )
    marks: list[tuple[float, float]] = []

    def progress(event: Any) -> None:
        if event.kind in ("start", "step"):
            marks.append(_mark(args.device))

    result = train_rm(config, progress=progress)
    m = result.metrics
    return {
        "name": name,
        "steps": result.steps,
        **_loop_times(marks),
        "pairs": pairs,
        "val_accuracy": m["val_accuracy"],
        "val_pairs": m["val_pairs"],
    }


def run_trl(
    train: list[dict[str, Any]],
    val: list[dict[str, Any]],
    out: Path,
    args: argparse.Namespace,
    batch_size: int,
    warmup: int,
) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback
    from trl import RewardConfig, RewardTrainer

    marks: list[tuple[float, float]] = []

    class StepTimer(TrainerCallback):  # same marks as ours: train start, then the end of every step
        def on_train_begin(self, *a: Any, **kw: Any) -> None:
            marks.append(_mark(args.device))

        def on_step_end(self, *a: Any, **kw: Any) -> None:
            marks.append(_mark(args.device))

    cuda = args.device.startswith("cuda")
    tok = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=Path(args.model_dir).is_dir())
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    torch.manual_seed(args.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model_dir, num_labels=1, dtype=torch.float32, local_files_only=Path(args.model_dir).is_dir()
    )
    model.config.pad_token_id = tok.pad_token_id
    config = RewardConfig(
        output_dir=str(out),
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=1,
        num_train_epochs=1,
        learning_rate=args.lr,
        adam_beta1=0.9,
        adam_beta2=0.95,
        adam_epsilon=1e-8,
        weight_decay=0.0,
        lr_scheduler_type="cosine",
        warmup_steps=warmup,
        max_grad_norm=1.0,
        max_length=args.max_length,
        bf16=cuda,
        fp16=False,
        optim="adamw_torch_fused" if cuda else "adamw_torch",
        use_cpu=not cuda,
        seed=args.seed,
        data_seed=args.seed,
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        center_rewards_coefficient=None,
        disable_dropout=True,
        gradient_checkpointing=False,  # RewardConfig turns it on by default; ours is off
    )
    trainer = RewardTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(train),
        eval_dataset=Dataset.from_list(val),
        processing_class=tok,
        callbacks=[StepTimer()],
    )
    if len(trainer.train_dataset) != len(train):
        raise RuntimeError("TRL dropped pairs longer than --max-length: raise --max-length")
    output = trainer.train()
    # validation accuracy over every pair, computed directly (TRL averages per-batch accuracies)
    model = trainer.model
    model.eval()
    correct = 0
    eval_ds = trainer.eval_dataset
    device = next(model.parameters()).device
    with torch.no_grad(), torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
        for i in range(0, len(eval_ds), batch_size):
            batch = trainer.data_collator([eval_ds[j] for j in range(i, min(i + batch_size, len(eval_ds)))])
            logits = model(
                input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
            ).logits.squeeze(-1)
            chosen, rejected = logits.float().chunk(2)
            correct += int((chosen > rejected).sum())
    return {
        "name": "trl",
        "steps": output.global_step,
        **_loop_times(marks),
        "pairs": len(train),
        "val_accuracy": correct / len(eval_ds),
        "val_pairs": len(eval_ds),
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=4, help="answers per prompt (all ranked, no ties)")
    ap.add_argument(
        "--prompts", type=int, default=0, help="training prompts (default: about 2304 TRL sequences' worth)"
    )
    ap.add_argument("--val-prompts", type=int, default=0, help="validation prompts (default: 192 // K)")
    ap.add_argument(
        "--prompts-per-step", type=int, default=0, help="K-wise prompts per optimizer step (default: 16 // K)"
    )
    ap.add_argument("--model", default=None, help="hub name or local dir of a causal LM (default: built)")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--prompt-words", type=int, default=24)
    ap.add_argument("--answer-words", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup-steps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    ap.add_argument("--threads", type=int, default=0, help="torch threads on CPU (0: torch's default)")
    ap.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="turn on our trainer's torch.use_deterministic_algorithms on CPU (RMConfig's default; off here "
        "because TRL does not set it, and it costs ~15%% on CPU)",
    )
    ap.add_argument("--only", default="kwise,pairwise,trl", help="comma-separated subset to run")
    args = ap.parse_args(argv)

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    k = args.k
    pairs_per_prompt = k * (k - 1) // 2
    args.prompts_per_step = args.prompts_per_step or max(1, 16 // k)
    n_train = args.prompts or args.prompts_per_step * max(
        4, round(2304 / (2 * pairs_per_prompt * args.prompts_per_step))
    )
    n_val = args.val_prompts or max(4, 192 // k)
    pairs_per_step = args.prompts_per_step * pairs_per_prompt

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="rm_throughput_") as tmp:
        root = Path(tmp)
        if args.model is None:
            build_backbone(root / "backbone", args.hidden, args.layers, args.seed)
            args.model_dir = str(root / "backbone")
        else:
            args.model_dir = args.model
        rankings = make_rankings(n_train + n_val, k, args.seed, args.prompt_words, args.answer_words)
        train_k, val_k = rankings[:n_train], rankings[n_train:]
        train_p, val_p = pairwise_export(train_k), pairwise_export(val_k)
        write_jsonl(root / "kwise" / "train.jsonl", train_k)
        write_jsonl(root / "kwise" / "validation.jsonl", val_k)
        write_jsonl(root / "pairwise" / "train.jsonl", train_p)
        write_jsonl(root / "pairwise" / "validation.jsonl", val_p)
        steps = math.ceil(n_train / args.prompts_per_step)
        warmup = min(args.warmup_steps, steps // 4)
        print(
            f"K={k}: {n_train} train prompts ({len(train_p)} pairs), {n_val} validation prompts "
            f"({len(val_p)} pairs); {pairs_per_step} pairs per step, {steps} steps; device {args.device}",
            flush=True,
        )
        only = set(args.only.split(","))
        runs = [
            (
                "kwise",
                lambda: run_ours(
                    "kwise", root / "kwise", root / "out_k", args, args.prompts_per_step, warmup, len(train_p)
                ),
            ),
            (
                "pairwise",
                lambda: run_ours(
                    "pairwise", root / "pairwise", root / "out_p", args, pairs_per_step, warmup, len(train_p)
                ),
            ),
            ("trl", lambda: run_trl(train_p, val_p, root / "out_trl", args, pairs_per_step, warmup)),
        ]
        for name, fn in runs:
            if name not in only:
                continue
            r = fn()
            r["pairs_per_s"] = r["pairs"] / max(1e-9, r["seconds"])
            # On a shared CPU host the wall clock depends on other load; this process's CPU time much less.
            r["pairs_per_cpu_s"] = r["pairs"] / max(1e-9, r["cpu_seconds"])
            r["median_step_s"] = statistics.median(r["step_seconds"]) if r["step_seconds"] else math.nan
            results[name] = r
            print(
                f"{name:9s} steps {r['steps']:4d}  pairs {r['pairs']:6d}  epoch {r['seconds']:7.1f}s  "
                f"{r['pairs_per_s']:8.1f} pairs/s  (CPU {r['cpu_seconds']:.1f}s: {r['pairs_per_cpu_s']:.1f} pairs/CPU-s; "
                f"median step {r['median_step_s']:.2f}s)  val acc {r['val_accuracy']:.3f} ({r['val_pairs']:.0f} pairs)",
                flush=True,
            )

    def get(name: str, key: str) -> Any:
        return results[name][key] if name in results else None

    trl_rate = get("trl", "pairs_per_s")
    summary: dict[str, Any] = {
        "k": k,
        "device": args.device if args.device != "cpu" else f"cpu ({torch.get_num_threads()} threads)",
        "model": args.model or f"llama-built hidden={args.hidden} layers={args.layers}",
        "max_length": args.max_length,
        "deterministic": args.deterministic,
        "train_prompts": n_train,
        "train_pairs": len(train_p),
        "pairs_per_step": pairs_per_step,
        "steps": steps,
        "kwise_pairs_per_s": get("kwise", "pairs_per_s"),
        "pairwise_pairs_per_s": get("pairwise", "pairs_per_s"),
        "trl_pairs_per_s": trl_rate,
        "kwise_epoch_s": get("kwise", "seconds"),
        "pairwise_epoch_s": get("pairwise", "seconds"),
        "trl_epoch_s": get("trl", "seconds"),
        "speedup_vs_trl": get("kwise", "pairs_per_s") / trl_rate if trl_rate and "kwise" in results else None,
        "kwise_pairs_per_cpu_s": get("kwise", "pairs_per_cpu_s"),
        "pairwise_pairs_per_cpu_s": get("pairwise", "pairs_per_cpu_s"),
        "trl_pairs_per_cpu_s": get("trl", "pairs_per_cpu_s"),
        "speedup_vs_trl_cpu_time": (
            get("kwise", "pairs_per_cpu_s") / get("trl", "pairs_per_cpu_s")
            if "kwise" in results and "trl" in results
            else None
        ),
        "pairwise_vs_trl": get("pairwise", "pairs_per_s") / trl_rate
        if trl_rate and "pairwise" in results
        else None,
        "acc_kwise": get("kwise", "val_accuracy"),
        "acc_pairwise": get("pairwise", "val_accuracy"),
        "acc_trl": get("trl", "val_accuracy"),
        "val_pairs": len(val_p),
    }
    summary = {key: round(v, 4) if isinstance(v, float) else v for key, v in summary.items()}
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
