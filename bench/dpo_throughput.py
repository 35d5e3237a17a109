"""DPO training throughput: our ``train_dpo`` (prefix-shared, the default; and unshared) vs TRL's ``DPOTrainer``.

    python bench/dpo_throughput.py --threads 1              # HH-RLHF shapes, K=2 (pairwise), CPU
    python bench/dpo_throughput.py --k 4 --threads 1        # rankings of 4: every pair of a prompt

The policy is the benchmark Llama of ``rm_throughput.py`` (built from a config, nothing downloaded) and the
data are its HH-shaped rankings (``--shape hh`` there: HH-RLHF harmless-base's conversation shapes and
lengths, a planted preference), given to TRL as its standard pairwise format (one record per pair) and to
ours as K-wise records (each prompt once, with all its answers). Both: same initial weights, one epoch,
the same pairs per optimizer step, AdamW with warm-up + cosine, clipping 1.0, beta 0.1, sigmoid loss, fp32
on CPU, and the reference log-probabilities computed once before training (TRL's
``precompute_ref_log_probs=True``; ours always does).

Figures per CPU-second of this process (``--threads 1`` on a shared machine): ``*_pairs_per_cpu_s`` counts the
whole training call (tokenisation, the reference pass and the loop; model building excluded), and
``*_loop_pairs_per_cpu_s`` the loop only (first to last optimizer step). Validation: our DPO loss and
accuracy on held-out pairs, computed by the same code for every trained policy. The last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from rm_throughput import (  # noqa: E402
    build_backbone,
    make_hh_rankings,
    pairwise_export,
    token_shapes,
    trl_quiet_args,
    write_jsonl,
)

BETA = 0.1


def _mark() -> tuple[float, float]:
    return time.monotonic(), time.process_time()


def _times(
    start: tuple[float, float], end: tuple[float, float], loop: list[tuple[float, float]]
) -> dict[str, Any]:
    return {
        "seconds": end[0] - start[0],
        "cpu_seconds": end[1] - start[1],
        "loop_cpu_seconds": loop[-1][1] - loop[0][1],
    }


def run_ours(
    data: Path, out: Path, args: argparse.Namespace, prompts_per_step: int, shared: bool
) -> dict[str, Any]:
    from rewardtrain.training import DPOConfig, train_dpo

    config = DPOConfig(
        data=str(data / "train.jsonl"),
        model=args.model_dir,
        out=str(out),
        seed=args.seed,
        max_length=args.max_length,
        batch_size=prompts_per_step,
        epochs=1.0,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        beta=BETA,
        max_grad_norm=1.0,
        deterministic=False,
        device="cpu",
        resume="no",
        prefix_sharing=shared,
    )
    loop: list[tuple[float, float]] = []
    start = _mark()
    result = train_dpo(
        config, progress=lambda e: loop.append(_mark()) if e.kind in ("start", "step") else None
    )
    end = _mark()
    return {"steps": result.steps, **_times(start, end, loop), "policy": str(out)}


def run_trl(
    train: list[dict[str, Any]], out: Path, args: argparse.Namespace, pairs_per_step: int
) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    loop: list[tuple[float, float]] = []

    class StepTimer(TrainerCallback):
        def on_train_begin(self, *a: Any, **kw: Any) -> None:
            loop.append(_mark())

        def on_step_end(self, *a: Any, **kw: Any) -> None:
            loop.append(_mark())

    tok = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    torch.manual_seed(args.seed)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32, local_files_only=True)
    config = DPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=pairs_per_step,
        gradient_accumulation_steps=1,
        num_train_epochs=1,
        learning_rate=args.lr,
        adam_beta1=0.9,
        adam_beta2=0.95,
        weight_decay=0.0,
        lr_scheduler_type="cosine",
        warmup_steps=args.warmup_steps,
        max_grad_norm=1.0,
        max_length=args.max_length,
        beta=BETA,
        loss_type=["sigmoid"],
        precompute_ref_log_probs=True,
        use_cpu=True,
        bf16=False,
        **trl_quiet_args(args.seed),
        gradient_checkpointing=False,
    )
    start = _mark()
    trainer = DPOTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(train),
        processing_class=tok,
        callbacks=[StepTimer()],
    )
    output = trainer.train()
    end = _mark()
    trainer.model.save_pretrained(out / "policy", safe_serialization=True)
    tok.save_pretrained(out / "policy")
    return {"steps": output.global_step, **_times(start, end, loop), "policy": str(out / "policy")}


def validation(
    policy_dir: str, reference_dir: str, val: list[dict[str, Any]], max_length: int
) -> dict[str, float]:
    """Our DPO loss and accuracy on held-out pairs for a trained policy (the same code for every method)."""
    import torch

    from rewardtrain.training import DPOConfig
    from rewardtrain.training.distributed import DistEnv
    from rewardtrain.training.dpo import DPOTask, precompute_reference, tokenize_preferences
    from rewardtrain.training.modeling import load_model_and_tokenizer

    reference, tokenizer = load_model_and_tokenizer(reference_dir)
    task = DPOTask(tokenizer, DPOConfig(data="", model="", out="", beta=BETA, batch_size=8))
    items = tokenize_preferences(val, tokenizer, max_length)
    cpu = torch.device("cpu")
    precompute_reference(reference, items, task, cpu, torch.autocast("cpu", enabled=False))
    policy, _ = load_model_and_tokenizer(policy_dir)
    policy.eval()
    with torch.no_grad():
        metrics = task.evaluate(policy, items, DistEnv(0, 0, 1, cpu))
    return {"val_loss": metrics["val_loss"], "val_accuracy": metrics["val_accuracy"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=2, help="answers per prompt (2: pairwise, as HH)")
    ap.add_argument("--prompts", type=int, default=0, help="training prompts (default: about 1152 pairs)")
    ap.add_argument(
        "--val-prompts", type=int, default=0, help="validation prompts (default: 96 pairs' worth)"
    )
    ap.add_argument("--pairs-per-step", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=640)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup-steps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--only", default="shared,unshared,trl", help="comma-separated subset to run")
    args = ap.parse_args(argv)

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    k = args.k
    pairs_per_prompt = k * (k - 1) // 2
    prompts_per_step = max(1, args.pairs_per_step // pairs_per_prompt)
    pairs_per_step = prompts_per_step * pairs_per_prompt
    n_train = args.prompts or prompts_per_step * max(4, round(1152 / pairs_per_step))
    n_val = args.val_prompts or max(4, 96 // pairs_per_prompt)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="dpo_throughput_") as tmp:
        root = Path(tmp)
        build_backbone(root / "backbone", args.hidden, args.layers, args.seed)
        args.model_dir = str(root / "backbone")
        rankings = make_hh_rankings(n_train + n_val, k, args.seed)
        train_k, val_k = rankings[:n_train], rankings[n_train:]
        train_p = pairwise_export(train_k)
        write_jsonl(root / "kwise" / "train.jsonl", train_k)
        shapes = token_shapes(train_k, args.model_dir, k)
        print(
            f"K={k}: {n_train} train prompts ({len(train_p)} pairs), {len(pairwise_export(val_k))} validation "
            f"pairs; {pairs_per_step} pairs per step; prompt {shapes['prompt_tokens_mean']:.1f} tokens, answer "
            f"{shapes['answer_tokens_mean']:.1f}",
            flush=True,
        )
        runs = {
            "shared": lambda: run_ours(root / "kwise", root / "out_s", args, prompts_per_step, True),
            "unshared": lambda: run_ours(root / "kwise", root / "out_u", args, prompts_per_step, False),
            "trl": lambda: run_trl(train_p, root / "out_trl", args, pairs_per_step),
        }
        for name, fn in runs.items():
            if name not in args.only.split(","):
                continue
            r = fn()
            r |= validation(r.pop("policy"), args.model_dir, val_k, args.max_length)
            r["pairs_per_cpu_s"] = len(train_p) / r["cpu_seconds"]
            r["loop_pairs_per_cpu_s"] = len(train_p) / r["loop_cpu_seconds"]
            results[name] = r
            print(
                f"{name:9s} steps {r['steps']:4d}  wall {r['seconds']:6.1f}s  CPU {r['cpu_seconds']:6.1f}s "
                f"({r['pairs_per_cpu_s']:.1f} pairs/CPU-s; loop {r['loop_pairs_per_cpu_s']:.1f})  "
                f"val loss {r['val_loss']:.4f}  val acc {r['val_accuracy']:.3f}",
                flush=True,
            )

    def ratio(a: str, b: str, key: str) -> float | None:
        return results[a][key] / results[b][key] if a in results and b in results else None

    summary: dict[str, Any] = {
        "k": k,
        "shape": "hh",
        "device": f"cpu ({torch.get_num_threads()} threads)",
        "train_pairs": len(train_p),
        "pairs_per_step": pairs_per_step,
        **{
            f"{n}_{key}": r[key]
            for n, r in results.items()
            for key in ("pairs_per_cpu_s", "loop_pairs_per_cpu_s")
        },
        **{f"{n}_{key}": r[key] for n, r in results.items() for key in ("val_loss", "val_accuracy", "steps")},
        "speedup_vs_trl_cpu_time": ratio("shared", "trl", "pairs_per_cpu_s"),
        "loop_speedup_vs_trl_cpu_time": ratio("shared", "trl", "loop_pairs_per_cpu_s"),
        "sharing_vs_unshared_cpu_time": ratio("shared", "unshared", "pairs_per_cpu_s"),
        "tokens_per_pair_shared": shapes["tokens_per_pair_kwise"],
        "tokens_per_pair_unshared": shapes["tokens_per_pair_kwise_unshared"],
        "tokens_per_pair_trl": shapes["tokens_per_pair_trl"],
        "loadavg": Path("/proc/loadavg").read_text().split()[0],
    }
    summary = {
        key: round(v, 4) if isinstance(v, float) and not math.isnan(v) else v for key, v in summary.items()
    }
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
