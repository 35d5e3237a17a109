"""Reward-model training throughput: K-wise batching vs. the pairwise export vs. TRL's RewardTrainer.

    python bench/rm_throughput.py --k 4
    python bench/rm_throughput.py --k 8
    python bench/rm_throughput.py --shape hh --k 4 --threads 1     # HH-RLHF's prompt and answer lengths
    python bench/rm_throughput.py --k 4 --device cuda --model Qwen/Qwen2.5-0.5B --prompts 512   # on a GPU host

The same reward model is trained for one epoch on the same synthetic rankings four ways:

* ``kwise``: our ``train_rm`` (the default trainer) on the K-wise records; one batch element is a prompt with
  its K answers, all in one forward pass, the prompt encoded once and followed by its K answers
  (prefix sharing: P + K·A tokens for C(K,2) pairs);
* ``kwise_unshared``: the same with ``prefix_sharing`` off: one row per answer (K·(P + A) tokens);
* ``pairwise``: our ``train_rm`` on the pairwise export of those rankings, one pair per batch element
  (each pair's prompt shared by its 2 answers);
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
so a model that learns the task gets high accuracy. ``--shape synthetic`` (the default) gives every prompt
``--prompt-words`` and every answer ``--answer-words`` words; ``--shape hh`` draws them from Anthropic
HH-RLHF harmless-base (``../shared/datasets``): each ranking copies the turn structure and word counts of
one HH conversation (``\n\nHuman: ... \n\nAssistant: ...``, the dataset's own format), its first two
answers the lengths of that conversation's chosen and rejected answers and any further ones lengths drawn
from all HH answers. The token share of the prompt and ``tokens_per_pair`` (tokens each method encodes per
comparison pair) are printed. By default the backbone is a Llama built from a config
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


HH_FILE = REPO / "../shared/datasets/hh-rlhf/harmless-base/test.jsonl.gz"
HH_MAX_PROMPT_WORDS, HH_MAX_ANSWER_WORDS = 300, 150  # keeps ~97% of HH and every sequence under --max-length


def hh_shapes() -> tuple[list[tuple[list[int], int, int]], list[int]]:
    """From HH harmless-base: (word counts of each prompt turn, chosen words, rejected words) per conversation
    that fits the caps, and the pool of all answer lengths."""
    from rewardtrain.formats.hh_rlhf import read_hh_jsonl

    shapes, pool = [], []
    for rec in read_hh_jsonl(HH_FILE):
        turns = [max(1, len(m["content"].split())) for m in rec.prompt]
        answers = [max(1, len(rec.chosen.split())), max(1, len(rec.rejected.split()))]
        if sum(turns) <= HH_MAX_PROMPT_WORDS and max(answers) <= HH_MAX_ANSWER_WORDS:
            shapes.append((turns, *answers))
            pool += answers
    return shapes, pool


def make_hh_rankings(n_prompts: int, k: int, seed: int) -> list[dict[str, Any]]:
    """K-wise records with HH's conversation shapes and lengths and the planted quality-word preference."""
    shapes, pool = hh_shapes()
    rng = random.Random(seed)
    records = []
    for i in range(n_prompts):
        turns, chosen, rejected = rng.choice(shapes)
        prompt = "".join(
            f"\n\n{'Human' if t % 2 == 0 else 'Assistant'}: " + " ".join(rng.choices(WORDS, k=n))
            for t, n in enumerate(turns)
        )
        prompt += "\n\nAssistant:"
        lengths = [chosen, rejected, *rng.choices(pool, k=max(0, k - 2))][:k]
        levels = sorted(rng.sample(range(len(QUALITY)), k))
        cands = []
        for tier, (level, n) in enumerate(zip(levels, lengths, strict=True)):
            words = rng.choices(WORDS, k=max(0, n - 1))
            words.insert(rng.randrange(len(words) + 1), QUALITY[level])
            cands.append({"id": f"{i}-{tier}", "text": " " + " ".join(words), "tier": tier})
        rng.shuffle(cands)
        records.append({"prompt": prompt, "prompt_id": i, "candidates": cands})
    return records


def token_shapes(records: list[dict[str, Any]], model_dir: str, k: int) -> dict[str, float]:
    """Prompt share of a ranking's tokens and the tokens each method encodes per comparison pair."""
    from rewardtrain.training.data import encode_ranking, records_to_ranked_prompts
    from rewardtrain.training.modeling import load_tokenizer

    tok = load_tokenizer(model_dir)
    prompt_tokens = answer_tokens = shared = unshared = trl = pairwise = pairs = 0
    for elem in records_to_ranked_prompts(records):
        p_ids, a_ids = encode_ranking(tok, elem.prompt, elem.answers, 10**9)
        p, lens = len(p_ids), [len(a) for a in a_ids]
        prompt_tokens += p
        answer_tokens += sum(lens)
        shared += p + sum(lens)
        unshared += k * p + sum(lens)
        trl += sum(2 * p + lens[c.better] + lens[c.worse] for c in elem.pairs)
        pairwise += sum(p + lens[c.better] + lens[c.worse] for c in elem.pairs)
        pairs += len(elem.pairs)
    return {
        "prompt_tokens_mean": prompt_tokens / len(records),
        "answer_tokens_mean": answer_tokens / (len(records) * k),
        "prompt_token_share_k2": prompt_tokens / (prompt_tokens + answer_tokens * 2 / k),
        "tokens_per_pair_kwise": shared / pairs,
        "tokens_per_pair_kwise_unshared": unshared / pairs,
        "tokens_per_pair_pairwise": pairwise / pairs,
        "tokens_per_pair_trl": trl / pairs,
    }


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
    name: str,
    data_dir: Path,
    out: Path,
    args: argparse.Namespace,
    batch_size: int,
    warmup: int,
    pairs: int,
    prefix_sharing: bool = True,
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
        prefix_sharing=prefix_sharing,
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


def trl_quiet_args(seed: int) -> dict[str, Any]:
    """TRL/transformers ``TrainingArguments`` shared by the benchmarks: seeded, no logging, saving, evaluation
    or progress bars inside the timed loop, data loaded in the main process."""
    return {
        "seed": seed,
        "data_seed": seed,
        "logging_strategy": "no",
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
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
        **trl_quiet_args(args.seed),
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
        "--shape",
        choices=("synthetic", "hh"),
        default="synthetic",
        help="prompt and answer lengths (see above)",
    )
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
    ap.add_argument("--max-length", type=int, default=0, help="default: 128 (synthetic), 640 (hh)")
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
    ap.add_argument(
        "--only", default="kwise,kwise_unshared,pairwise,trl", help="comma-separated subset to run"
    )
    args = ap.parse_args(argv)

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.max_length = args.max_length or (640 if args.shape == "hh" else 128)
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
        if args.shape == "hh":
            rankings = make_hh_rankings(n_train + n_val, k, args.seed)
        else:
            rankings = make_rankings(n_train + n_val, k, args.seed, args.prompt_words, args.answer_words)
        shapes = token_shapes(rankings[:n_train], args.model_dir, k)
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
        print(
            f"shape {args.shape}: prompt {shapes['prompt_tokens_mean']:.1f} tokens, answer "
            f"{shapes['answer_tokens_mean']:.1f} tokens (the prompt is {shapes['prompt_token_share_k2']:.0%} of a "
            "prompt with two answers); tokens per pair: "
            + ", ".join(
                f"{key[16:]} {v:.1f}" for key, v in shapes.items() if key.startswith("tokens_per_pair_")
            ),
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
                "kwise_unshared",
                lambda: run_ours(
                    "kwise_unshared",
                    root / "kwise",
                    root / "out_ku",
                    args,
                    args.prompts_per_step,
                    warmup,
                    len(train_p),
                    prefix_sharing=False,
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
                f"{name:14s} steps {r['steps']:4d}  pairs {r['pairs']:6d}  epoch {r['seconds']:7.1f}s  "
                f"{r['pairs_per_s']:8.1f} pairs/s  (CPU {r['cpu_seconds']:.1f}s: {r['pairs_per_cpu_s']:.1f} pairs/CPU-s; "
                f"median step {r['median_step_s']:.2f}s)  val acc {r['val_accuracy']:.3f} ({r['val_pairs']:.0f} pairs)",
                flush=True,
            )

    def get(name: str, key: str) -> Any:
        return results[name][key] if name in results else None

    trl_rate = get("trl", "pairs_per_s")
    summary: dict[str, Any] = {
        "k": k,
        "shape": args.shape,
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
        "kwise_unshared_pairs_per_cpu_s": get("kwise_unshared", "pairs_per_cpu_s"),
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
        "sharing_vs_unshared_cpu_time": (
            get("kwise", "pairs_per_cpu_s") / get("kwise_unshared", "pairs_per_cpu_s")
            if "kwise" in results and "kwise_unshared" in results
            else None
        ),
        "acc_kwise": get("kwise", "val_accuracy"),
        "acc_kwise_unshared": get("kwise_unshared", "val_accuracy"),
        "acc_pairwise": get("pairwise", "val_accuracy"),
        "acc_trl": get("trl", "val_accuracy"),
        "val_pairs": len(val_p),
        **shapes,
        "loadavg": Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else None,
    }
    summary = {key: round(v, 4) if isinstance(v, float) else v for key, v in summary.items()}
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
