"""Policy optimisation against a reward model: RLOO (default) or GRPO advantages, PPO-clip, KL penalty.

One step, on every process:

1. take ``batch_size`` prompts and sample ``samples_per_prompt`` (k) answers for each from the policy;
2. score each prompt + answer with the frozen reward model (the answer is decoded and encoded again with the
   reward model's tokenizer, exactly as in RM training);
3. compute each answer token's log-probability under the sampling policy ("old") and the frozen reference;
4. reward of an answer = RM score - beta * KL, where KL = sum over its tokens of (log pi_old - log pi_ref)
   (the k1 estimator, as InstructGPT's per-token penalty: with one advantage per answer, putting the penalty on
   each token or summing it onto the last token gives the same update);
5. advantage: RLOO, reward minus the mean reward of the k - 1 other answers to the same prompt (Ahmadian et al.,
   2024); or GRPO, (reward - group mean) / (group std + 1e-6) (Shao et al., 2024);
6. ``inner_epochs`` optimizer updates of the PPO-clip surrogate, per token
   ``-min(rho * A, clip(rho, 1 - eps, 1 + eps) * A)`` with ``rho = pi / pi_old``, summed over answer tokens (up
   to and including the end-of-turn token; prompt and padding masked) and divided by the answer tokens of the
   step, over all processes;
7. with ``kl_target`` > 0, beta moves towards the target (Ziegler et al., 2019's proportional controller).

Log-probabilities are taken at the sampling temperature (logits / T) for the policy and the reference alike;
top-p is not modelled. Dropout is off throughout (the policy stays in eval mode), so the first update is
exactly on-policy. Under torchrun each rank samples its own prompts (the k answers of a prompt stay on one
rank, so the baselines need no communication); gradients are averaged by DDP, the reference and the reward
model are replicated. Checkpoints hold the policy, the optimizer, every rank's RNG state and beta, so a
resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationConfig

from .chat import Prompt
from .checkpoint import find_resume_checkpoint, load_checkpoint, save_checkpoint
from .config import RLConfig, check_ranges
from .data import MicroBatchPlan, encode_prompt, pad_left, read_jsonl, resolve_data_files
from .distributed import DistEnv, unwrap_model, wrap_model
from .inference import score_texts, stop_token_ids
from .modeling import load_model_and_tokenizer, load_reward_model
from .progress import ProgressCallback, ProgressEvent
from .trainer import TrainResult, autocast_context, build_optimizer, training_session, warmup_cosine

GRPO_EPS = 1e-6
EVAL_SEED_OFFSET = 7919

# --------------------------------------------------------------------------- prompts


@dataclass
class PromptItem:
    prompt: Prompt
    prompt_id: Any = None


def prompt_of(record: dict[str, Any]) -> Prompt:
    """The prompt of an exported record: ``prompt`` (preference and prompt records), or an SFT record's
    ``messages`` without its final assistant answer."""
    if "prompt" in record:
        return record["prompt"]
    if "messages" in record:
        messages = list(record["messages"])
        if messages and messages[-1].get("role") == "assistant":
            messages = messages[:-1]
        if messages:
            return messages
    raise ValueError(
        f"a prompt record needs 'prompt' or 'messages' with a user turn (keys: {sorted(record)})"
    )


def read_prompts(path: str | Path | None) -> list[PromptItem]:
    if path is None:
        return []
    return [PromptItem(prompt_of(r), r.get("prompt_id")) for r in read_jsonl(path)]


def prompt_display(prompt: Prompt) -> str:
    """A prompt as one string for the sample table (role-prefixed lines for a conversation)."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in prompt)


# --------------------------------------------------------------------------- estimators


def rloo_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """``rewards`` is [prompts, k]: each reward minus the mean of the other k - 1 rewards of its prompt."""
    k = rewards.shape[-1]
    baseline = (rewards.sum(-1, keepdim=True) - rewards) / (k - 1)
    return rewards - baseline


def grpo_advantages(rewards: torch.Tensor, eps: float = GRPO_EPS) -> torch.Tensor:
    """``rewards`` is [prompts, k]: (reward - group mean) / (group sample standard deviation + eps)."""
    mean, std = rewards.mean(-1, keepdim=True), rewards.std(-1, keepdim=True)
    return (rewards - mean) / (std + eps)


ESTIMATORS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "rloo": rloo_advantages,
    "grpo": grpo_advantages,
}


class AdaptiveKLController:
    """beta <- beta * (1 + clip(KL / target - 1, -0.2, 0.2) * samples / horizon) (Ziegler et al., 2019);
    fixed when ``target`` is 0."""

    def __init__(self, init: float, target: float = 0.0, horizon: int = 10_000) -> None:
        self.value, self.target, self.horizon = init, target, horizon

    def update(self, current_kl: float, n_samples: int) -> None:
        if self.target <= 0:
            return
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_samples / self.horizon


# --------------------------------------------------------------------------- token-level pieces


def answer_mask(answer_ids: torch.Tensor, stop_ids: Sequence[int]) -> torch.Tensor:
    """1 for each generated token up to and including the first stop token, 0 after it (padding)."""
    is_stop = torch.isin(answer_ids, torch.tensor(list(stop_ids), dtype=answer_ids.dtype))
    stops_before = is_stop.long().cumsum(-1) - is_stop.long()
    return (stops_before == 0).long()


def token_logprobs(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    answer_width: int,
    temperature: float,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probability of each of the last ``answer_width`` tokens given everything before it ([rows, width],
    logits / temperature), and the entropy of each of those next-token distributions when asked."""
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    logits = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=False,
        logits_to_keep=answer_width + 1,
    ).logits[:, :-1]
    logp_all = F.log_softmax(logits.float() / temperature, dim=-1)
    targets = input_ids[:, -answer_width:]
    logp = logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    entropy = None
    if with_entropy:
        with torch.no_grad():
            entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy


def clipped_surrogate(
    logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip_eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO-clip loss summed over the masked tokens, and how many of them had the clipped branch active.

    ``logp``/``old_logp``/``mask`` are [rows, tokens], ``advantages`` one per row."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages.unsqueeze(-1)
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps)
    mask = mask.to(logp.dtype)
    loss_sum = (torch.maximum(unclipped, clipped) * mask).sum()
    clipped_tokens = ((clipped > unclipped).to(logp.dtype) * mask).sum().detach()
    return loss_sum, clipped_tokens


# --------------------------------------------------------------------------- rollouts


@dataclass
class Rollout:
    """k answers to each of a step's prompts (rows grouped by prompt), with what the update needs."""

    prompts: list[PromptItem]
    input_ids: torch.Tensor
    """[rows, prompt width + answer width]: left-padded prompt, then the answer (padding after its stop)."""
    attention_mask: torch.Tensor
    answer_mask: torch.Tensor
    """[rows, answer width]"""
    texts: list[str]
    ended: torch.Tensor
    """Whether each answer ended with a stop token (not cut by ``max_new_tokens``)."""
    scores: torch.Tensor
    old_logp: torch.Tensor
    ref_logp: torch.Tensor

    @property
    def answer_width(self) -> int:
        return self.answer_mask.shape[1]

    @property
    def kl(self) -> torch.Tensor:
        """KL estimate per answer: sum over its tokens of log pi_old - log pi_ref."""
        return ((self.old_logp - self.ref_logp) * self.answer_mask).sum(-1)

    @property
    def lengths(self) -> torch.Tensor:
        return self.answer_mask.sum(-1)


class RolloutMaker:
    """Samples, scores and measures answers; shared by training steps and held-out evaluation."""

    def __init__(
        self,
        config: RLConfig,
        tokenizer: Any,
        reference: nn.Module,
        reward_model: nn.Module,
        reward_tokenizer: Any,
        device: torch.device,
        autocast: Any,
    ) -> None:
        self.config, self.tokenizer, self.reference = config, tokenizer, reference
        self.reward_model, self.reward_tokenizer = reward_model, reward_tokenizer
        self.device, self.autocast = device, autocast
        self.stops = stop_token_ids(reference, tokenizer)
        self.prompt_budget = config.max_length - config.max_new_tokens
        if self.prompt_budget < 1:
            raise ValueError(
                f"max_length ({config.max_length}) leaves no room for a prompt before max_new_tokens "
                f"({config.max_new_tokens})"
            )

    def chunks(self, rows: int) -> Iterator[slice]:
        size = self.config.forward_batch_size or rows
        for i in range(0, rows, size):
            yield slice(i, min(rows, i + size))

    def generation_config(self, greedy: bool) -> GenerationConfig:
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.config.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.stops,
            "do_sample": not greedy,
        }
        if not greedy:
            kwargs |= {"temperature": self.config.temperature, "top_p": self.config.top_p, "top_k": 0}
        return GenerationConfig(**kwargs)

    @torch.no_grad()
    def make(self, policy: nn.Module, prompts: list[PromptItem], k: int, greedy: bool = False) -> Rollout:
        encoded = [encode_prompt(self.tokenizer, p.prompt)[-self.prompt_budget :] for p in prompts]
        ids, mask = pad_left(encoded, self.tokenizer.pad_token_id)
        ids = ids.repeat_interleave(k, dim=0).to(self.device)
        mask = mask.repeat_interleave(k, dim=0).to(self.device)
        with self.autocast:
            out = policy.generate(
                input_ids=ids, attention_mask=mask, generation_config=self.generation_config(greedy)
            )
        answers = out[:, ids.shape[1] :]
        a_mask = answer_mask(answers.cpu(), self.stops).to(self.device)
        lengths = a_mask.sum(-1).tolist()
        ended = torch.isin(answers, torch.tensor(self.stops, device=self.device)).any(-1)
        texts = []
        for row, n, stop in zip(answers.tolist(), lengths, ended.tolist(), strict=True):
            texts.append(self.tokenizer.decode(row[: n - 1 if stop else n], skip_special_tokens=True))
        input_ids = torch.cat([ids, answers], dim=1)
        attention_mask = torch.cat([mask, a_mask.to(mask.dtype)], dim=1)
        rows = [p for p in prompts for _ in range(k)]
        with self.autocast:
            scores = torch.tensor(
                score_texts(
                    self.reward_model,
                    self.reward_tokenizer,
                    [p.prompt for p in rows],
                    texts,
                    batch_size=self.config.forward_batch_size or len(rows),
                    max_length=self.config.max_length,
                ),
                device=self.device,
            )
        old = self.logprobs(policy, input_ids, attention_mask, answers.shape[1])
        ref = self.logprobs(self.reference, input_ids, attention_mask, answers.shape[1])
        return Rollout(prompts, input_ids, attention_mask, a_mask, texts, ended, scores, old, ref)

    @torch.no_grad()
    def logprobs(self, model: nn.Module, ids: torch.Tensor, mask: torch.Tensor, width: int) -> torch.Tensor:
        parts = []
        for part in self.chunks(ids.shape[0]):
            with self.autocast:
                logp, _ = token_logprobs(model, ids[part], mask[part], width, self.config.temperature)
            parts.append(logp)
        return torch.cat(parts)


# --------------------------------------------------------------------------- the loop


def sample_table(rollout: Rollout, rewards: torch.Tensor, k: int, rows: int) -> list[dict[str, Any]]:
    """A few answers of a step for people to read: the first answer of each prompt first, then the others."""
    order = sorted(range(len(rollout.texts)), key=lambda j: (j % k, j // k))[:rows]
    table = []
    for j in order:
        item = rollout.prompts[j // k]
        row = {
            "prompt": prompt_display(item.prompt),
            "answer": rollout.texts[j],
            "reward": float(rollout.scores[j]),
            "total_reward": float(rewards[j]),
            "kl": float(rollout.kl[j]),
            "length": int(rollout.lengths[j]),
            "ended": bool(rollout.ended[j]),
        }
        if item.prompt_id is not None:
            row["prompt_id"] = item.prompt_id
        table.append(row)
    return table


class RLTrainer:
    def __init__(
        self,
        config: RLConfig,
        env: DistEnv,
        policy: nn.Module,
        tokenizer: Any,
        maker: RolloutMaker,
        train_prompts: list[PromptItem],
        eval_prompts: list[PromptItem],
    ) -> None:
        self.config, self.env, self.policy, self.tokenizer, self.maker = config, env, policy, tokenizer, maker
        self.train_prompts, self.eval_prompts = train_prompts, eval_prompts
        self.k = config.samples_per_prompt
        self.kl_ctl = AdaptiveKLController(config.kl_coef, config.kl_target, config.kl_horizon)
        self.autocast = maker.autocast

    def evaluate(self) -> dict[str, float]:
        """Mean RM score, KL and length of answers to the held-out prompts (the same seed at every evaluation,
        so two evaluations differ by the policy only; the training RNG is left untouched)."""
        env, config = self.env, self.config
        greedy, k = config.eval_greedy, 1 if config.eval_greedy else self.k
        mine = self.eval_prompts[env.rank :: env.world_size]
        sums = {"reward": 0.0, "kl": 0.0, "length": 0.0, "n": 0.0}
        devices = [env.device] if env.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(config.seed + EVAL_SEED_OFFSET + env.rank)
            for i in range(0, len(mine), config.batch_size):
                rollout = self.maker.make(self.policy, mine[i : i + config.batch_size], k, greedy=greedy)
                sums["reward"] += float(rollout.scores.sum())
                sums["kl"] += float(rollout.kl.sum())
                sums["length"] += float(rollout.lengths.sum())
                sums["n"] += len(rollout.texts)
        sums = env.all_reduce_sum(sums)
        n = max(1.0, sums["n"])
        return {
            "val_reward": sums["reward"] / n,
            "val_kl": sums["kl"] / n,
            "val_answer_length": sums["length"] / n,
            "val_answers": sums["n"],
        }

    def update(
        self, ddp_policy: nn.Module, optimizer: torch.optim.Optimizer, rollout: Rollout, adv: torch.Tensor
    ) -> dict[str, float]:
        """``inner_epochs`` optimizer updates on one rollout; returns summed statistics (this rank)."""
        env, config = self.env, self.config
        tokens = env.all_reduce_sum({"t": float(rollout.answer_mask.sum())})["t"]
        scale = env.world_size / max(1.0, tokens)  # DDP averages gradients over ranks
        stats = {"loss_sum": 0.0, "clipped": 0.0, "entropy_sum": 0.0, "grad_norm": 0.0}
        parts = list(self.maker.chunks(len(rollout.texts)))
        for epoch in range(config.inner_epochs):
            for n, part in enumerate(parts):
                sync = n == len(parts) - 1 or not env.distributed
                with nullcontext() if sync else ddp_policy.no_sync(), self.autocast:  # type: ignore[operator]
                    logp, entropy = token_logprobs(
                        ddp_policy,
                        rollout.input_ids[part],
                        rollout.attention_mask[part],
                        rollout.answer_width,
                        config.temperature,
                        with_entropy=epoch == 0,
                    )
                    loss_sum, clipped = clipped_surrogate(
                        logp, rollout.old_logp[part], adv[part], rollout.answer_mask[part], config.clip_eps
                    )
                (loss_sum * scale).backward()
                stats["loss_sum"] += float(loss_sum.detach())
                stats["clipped"] += float(clipped)
                if entropy is not None:
                    stats["entropy_sum"] += float((entropy * rollout.answer_mask[part]).sum())
            if config.max_grad_norm > 0:
                norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), config.max_grad_norm)
                stats["grad_norm"] += float(norm) / config.inner_epochs
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return stats

    def run(self, progress: ProgressCallback | None, should_stop: Callable[[], bool] | None) -> TrainResult:
        config, env, policy = self.config, self.env, self.policy
        out = Path(config.out)
        if env.is_main:
            out.mkdir(parents=True, exist_ok=True)
            config.save_json(out / "training_config.json")
        plan = MicroBatchPlan(
            len(self.train_prompts), config.batch_size, env.world_size, env.rank, config.seed
        )
        if config.max_steps > 0:
            total_steps = config.max_steps
        else:
            total_steps = max(1, math.ceil(config.epochs * plan.per_epoch))
        warmup = (
            config.warmup_steps if config.warmup_steps is not None else int(config.warmup_ratio * total_steps)
        )
        optimizer = build_optimizer(policy, config, env.device)
        scheduler = warmup_cosine(optimizer, warmup, total_steps, config.min_lr_ratio)

        start_step, checkpoint_dir = 0, None
        ckpt = find_resume_checkpoint(out, config.resume)
        if ckpt is not None:
            saved = load_checkpoint(ckpt, env, policy, optimizer, scheduler)
            start_step, checkpoint_dir = int(saved["step"]), str(ckpt)
            self.kl_ctl.value = float(saved["kl_coef"])
        else:
            torch.manual_seed(config.seed + env.rank)  # per-rank sampling streams
        ddp_policy = wrap_model(policy, env)

        def emit(event: ProgressEvent) -> None:
            if progress is not None and env.is_main:
                progress(event)

        def checkpoint(step: int, metrics: dict[str, float]) -> str:
            state = {"kl_coef": self.kl_ctl.value, "metrics": metrics, "total_steps": total_steps}
            path = save_checkpoint(
                out, env, step, policy, optimizer, scheduler, state, config.keep_checkpoints
            )
            return str(path)

        samples_per_step = config.batch_size * self.k * env.world_size
        emit(
            ProgressEvent(
                "start",
                start_step,
                total_steps,
                metrics={
                    "train_prompts": len(self.train_prompts),
                    "eval_prompts": len(self.eval_prompts),
                    "world_size": env.world_size,
                    "samples_per_step": samples_per_step,
                    "resumed": ckpt is not None,
                },
            )
        )
        if config.eval_every and self.eval_prompts and start_step == 0:
            emit(ProgressEvent("eval", 0, total_steps, metrics=self.evaluate()))

        metrics: dict[str, float] = {}
        t0, samples_seen, stopped, step = time.monotonic(), 0, False, start_step
        for step in range(start_step, total_steps):
            if env.any(bool(should_stop and should_stop())):
                stopped = True
                break
            t_step = time.monotonic()
            prompts = [self.train_prompts[i] for i in plan.indices(step)]
            rollout = self.maker.make(policy, prompts, self.k)
            beta = self.kl_ctl.value
            scores = rollout.scores - config.missing_eos_penalty * (~rollout.ended).float()
            rewards = scores - beta * rollout.kl
            adv = ESTIMATORS[config.estimator](rewards.view(-1, self.k)).reshape(-1)
            lr = optimizer.param_groups[0]["lr"]
            stats = self.update(ddp_policy, optimizer, rollout, adv)
            scheduler.step()

            sums = env.all_reduce_sum(
                {
                    **stats,
                    "score": float(rollout.scores.sum()),
                    "reward": float(rewards.sum()),
                    "kl": float(rollout.kl.sum()),
                    "length": float(rollout.lengths.sum()),
                    "ended": float(rollout.ended.sum()),
                    "tokens": float(rollout.answer_mask.sum()),
                    "n": float(len(rollout.texts)),
                }
            )
            n, tokens = sums["n"], max(1.0, sums["tokens"])
            mean_kl = sums["kl"] / n
            self.kl_ctl.update(mean_kl, int(n))
            done = step + 1
            samples_seen += int(n)
            elapsed = time.monotonic() - t0
            step_s = max(1e-9, time.monotonic() - t_step)
            metrics = {
                "reward": sums["score"] / n,
                "total_reward": sums["reward"] / n,
                "kl": mean_kl,
                "answer_length": sums["length"] / n,
                "ended_frac": sums["ended"] / n,
                "entropy": sums["entropy_sum"] / tokens,
                "clip_frac": sums["clipped"] / (tokens * config.inner_epochs),
                "kl_coef": beta,
                "loss": sums["loss_sum"] / (tokens * config.inner_epochs),
                "grad_norm": sums["grad_norm"] / env.world_size if config.max_grad_norm > 0 else float("nan"),
                "lr": lr,
                "samples_per_s": n / step_s,
            }
            if done % max(1, config.log_every) == 0 or done == total_steps:
                emit(
                    ProgressEvent(
                        "step",
                        done,
                        total_steps,
                        epoch=plan.epoch_of(done),
                        loss=metrics["loss"],
                        lr=lr,
                        tokens_per_s=sums["tokens"] / step_s,
                        eta_s=elapsed / (done - start_step) * (total_steps - done),
                        elapsed_s=elapsed,
                        metrics=metrics,
                    )
                )
            if config.sample_every and done % config.sample_every == 0:
                table = sample_table(rollout, rewards, self.k, config.sample_rows)
                emit(ProgressEvent("samples", done, total_steps, elapsed_s=elapsed, samples=table))
            if (
                config.eval_every
                and done % config.eval_every == 0
                and done < total_steps
                and self.eval_prompts
            ):
                emit(ProgressEvent("eval", done, total_steps, metrics=self.evaluate()))
            if config.save_every and done % config.save_every == 0 and done < total_steps:
                checkpoint_dir = checkpoint(done, metrics)
        else:
            step = total_steps

        elapsed = time.monotonic() - t0
        final: dict[str, float] = {f"train_{k}": v for k, v in metrics.items()}
        final |= {
            "steps": float(step),
            "elapsed_s": elapsed,
            "samples_per_s": samples_seen / max(1e-9, elapsed),
            "kl_coef": self.kl_ctl.value,
        }
        if stopped:
            if step > start_step or checkpoint_dir is None:
                checkpoint_dir = checkpoint(step, metrics)
        else:
            if self.eval_prompts:
                final.update(self.evaluate())
            if env.is_main:
                unwrap_model(policy).save_pretrained(out, safe_serialization=True)
                self.tokenizer.save_pretrained(out)
                (out / "metrics.json").write_text(json.dumps(final, indent=2, sort_keys=True) + "\n")
            env.barrier()
        emit(
            ProgressEvent("end", step, total_steps, elapsed_s=elapsed, metrics={**final, "stopped": stopped})
        )
        return TrainResult(str(out), final, step, stopped, checkpoint_dir)


def _frozen(model: nn.Module, device: torch.device) -> nn.Module:
    model.to(device)
    model.eval()
    model.requires_grad_(False)
    return model


def train_rl(
    config: RLConfig,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Optimise the policy ``config.model`` against the reward model ``config.reward_model`` on the prompts
    in ``config.data``; the policy is saved to ``config.out`` as a causal LM folder.

    Resumes from ``out/checkpoints`` (``config.resume``); ``should_stop`` is asked before every step, and a
    stop writes a checkpoint. Progress: ``step`` events (reward, KL, answer length, entropy, clip fraction,
    beta), ``eval`` events on the held-out prompts (``eval_data``; also before the first step), and
    ``samples`` events with a table of answers every ``sample_every`` steps.
    """
    check_ranges(config)
    with training_session(config) as env:
        policy, tokenizer = load_model_and_tokenizer(config.model, gguf_file=config.gguf_file)
        if config.ref_model:
            reference, _ = load_model_and_tokenizer(config.ref_model)
        else:
            reference = copy.deepcopy(policy)  # the policy before any step (a checkpoint is loaded later)
        reward_model, reward_tokenizer = load_reward_model(config.reward_model)
        train_path, eval_path = resolve_data_files(config.data, config.eval_data)
        train_prompts, eval_prompts = read_prompts(train_path), read_prompts(eval_path)
        if not train_prompts:
            raise ValueError(f"no prompts in {train_path}")
        policy.to(env.device)
        policy.eval()  # no dropout: the first update is exactly on-policy
        autocast = autocast_context(config, env.device)
        maker = RolloutMaker(
            config,
            tokenizer,
            _frozen(reference, env.device),
            _frozen(reward_model, env.device),
            reward_tokenizer,
            env.device,
            autocast,
        )
        trainer = RLTrainer(config, env, policy, tokenizer, maker, train_prompts, eval_prompts)
        return trainer.run(progress, should_stop)
