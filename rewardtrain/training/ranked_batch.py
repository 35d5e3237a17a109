"""Batches of ranked prompts (a prompt and its answers, each tokenised once) in one of two layouts.

* **One row per answer** (``shared=False``): every answer is its own row, ``prompt + answer``, right-padded.
* **Prefix-shared rows** (``shared=True``, the default of the reward-model and DPO trainers): a row holds
  ``[P1 A11 A12 ... A1K  P2 A21 ...]``, the prompt once and then its answers. Each answer token attends to
  its own prompt and, causally, to its own answer; never to a sibling answer or to another prompt. Its
  position ids continue from the end of its prompt. So every answer token sees exactly what it sees in its
  own row, and its hidden states, its reward (read at its last token) and its log-probabilities are those
  of the unshared layout, up to the order of floating-point sums. The prompt's tokens are encoded once
  instead of K times, which is most of the work when the prompt is a long conversation.

Attention in a shared row follows two integer ids per token: ``segment_ids`` (which prompt block of the
row; every padding token is a block of its own) and ``span_ids`` (0 for the prompt, j + 1 for the j-th
answer of the block). Token q may attend to token kv when both are in the same block, kv <= q, and kv is in
the prompt or in q's own answer. ``attention_inputs`` turns that rule into what the model's attention
implementation takes: a boolean mask for SDPA (on CUDA its memory-efficient kernel takes it), an additive
float mask for eager attention, and a block-sparse ``BlockMask`` for FlexAttention, which skips the blocks
that are fully masked (the sibling answers of long rankings).

Rankings whose prompt and answers do not fit ``row_tokens`` are split into blocks that each repeat the
prompt (at least one answer per block); blocks are packed first-fit into rows of at most ``row_tokens``
tokens (a single block longer than that gets its own row).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .data import Comparison, RankedPrompt, encode_ranking, pad_right

SHARED_ATTENTION = ("sdpa", "eager", "flex_attention")


@dataclass
class EncodedRanking:
    """A prompt's token ids, each answer's token ids and the comparisons among the answers (by index)."""

    prompt: list[int]
    answers: list[list[int]]
    pairs: list[Comparison]
    ref_logps: list[float] = field(default_factory=list)
    """DPO: each answer's sequence log-probability under the frozen reference (``dpo.precompute_reference``)."""

    @property
    def sequences(self) -> list[list[int]]:
        return [self.prompt + a for a in self.answers]


def tokenize_rankings(
    elements: Iterable[RankedPrompt], tokenizer: Any, max_length: int, max_answers: int = 0
) -> list[EncodedRanking]:
    """Each prompt with all its answers (``max_answers`` > 0: prompts with more answers are left out)."""
    out = []
    for elem in elements:
        if max_answers and len(elem.answers) > max_answers:
            continue
        prompt, answers = encode_ranking(tokenizer, elem.prompt, elem.answers, max_length)
        out.append(EncodedRanking(prompt, answers, [p for p in elem.pairs if p.better != p.worse]))
    return out


# --------------------------------------------------------------------------- layout


@dataclass
class _Block:
    item: int
    answers: list[int]
    length: int


def _blocks(items: list[EncodedRanking], row_tokens: int) -> list[_Block]:
    """Each item's answers grouped so that prompt + group fits ``row_tokens`` (at least one answer each)."""
    out = []
    for i, item in enumerate(items):
        block = _Block(i, [], len(item.prompt))
        for j, answer in enumerate(item.answers):
            if block.answers and block.length + len(answer) > row_tokens:
                out.append(block)
                block = _Block(i, [], len(item.prompt))
            block.answers.append(j)
            block.length += len(answer)
        if block.answers:
            out.append(block)
    return out


def _rows(blocks: list[_Block], row_tokens: int) -> list[list[_Block]]:
    """First-fit packing in batch order (deterministic)."""
    rows: list[list[_Block]] = []
    lengths: list[int] = []
    for block in blocks:
        for r, used in enumerate(lengths):
            if used + block.length <= row_tokens:
                rows[r].append(block)
                lengths[r] += block.length
                break
        else:
            rows.append([block])
            lengths.append(block.length)
    return rows


def _answer_offsets(items: list[EncodedRanking]) -> list[int]:
    offsets, total = [], 0
    for item in items:
        offsets.append(total)
        total += len(item.answers)
    return offsets


def _shared_layout(
    items: list[EncodedRanking], pad_id: int, row_tokens: int, with_targets: bool
) -> dict[str, Any]:
    offsets = _answer_offsets(items)
    last = [(0, 0)] * sum(len(item.answers) for item in items)  # (row, col) of each answer's last token
    targets: list[tuple[int, int, int, int]] = []  # (row, predicting col, target token, answer)
    rows = _rows(_blocks(items, row_tokens), row_tokens)
    width = max(sum(b.length for b in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    position_ids = torch.arange(width).repeat(len(rows), 1)
    # every padding token is a block of its own: it attends to itself only, and nothing attends to it
    segment_ids = -1 - torch.arange(width).repeat(len(rows), 1)
    span_ids = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        ids: list[int] = []
        pos: list[int] = []
        seg: list[int] = []
        span: list[int] = []
        for s, block in enumerate(row):
            item = items[block.item]
            p = len(item.prompt)
            ids += item.prompt
            pos += range(p)
            span += [0] * p
            prompt_last = len(ids) - 1  # predicts each answer's first token
            for slot, j in enumerate(block.answers, 1):
                answer, start, a = item.answers[j], len(ids), offsets[block.item] + j
                ids += answer
                pos += range(p, p + len(answer))
                span += [slot] * len(answer)
                last[a] = (r, start + len(answer) - 1 if answer else prompt_last)
                if with_targets:  # with no prompt, the first token has nothing to predict it
                    targets += [
                        (r, start + k - 1 if k else prompt_last, t, a) for k, t in enumerate(answer) if k or p
                    ]
            seg += [s] * (len(ids) - len(seg))
        n = len(ids)
        input_ids[r, :n] = torch.tensor(ids, dtype=torch.long)
        position_ids[r, :n] = torch.tensor(pos, dtype=torch.long)
        segment_ids[r, :n] = torch.tensor(seg, dtype=torch.long)
        span_ids[r, :n] = torch.tensor(span, dtype=torch.long)
    return {
        "input_ids": input_ids,
        "position_ids": position_ids,
        "attention_mask": None,
        "segment_ids": segment_ids,
        "span_ids": span_ids,
        "answer_last": torch.tensor(last, dtype=torch.long).view(-1, 2),
        "targets": targets,
    }


def _unshared_layout(items: list[EncodedRanking], pad_id: int, with_targets: bool) -> dict[str, Any]:
    seqs, last, targets = [], [], []
    for item in items:
        for answer in item.answers:
            a, seq, p = len(seqs), item.prompt + answer, len(item.prompt)
            seqs.append(seq)
            last.append((a, len(seq) - 1))
            if with_targets:
                targets += [(a, col - 1, seq[col], a) for col in range(max(p, 1), len(seq))]
    input_ids, attention_mask = pad_right(seqs, pad_id)
    return {
        "input_ids": input_ids,
        "position_ids": None,
        "attention_mask": attention_mask,
        "answer_last": torch.tensor(last, dtype=torch.long).view(-1, 2),
        "targets": targets,
    }


def collate_ranked(
    items: list[EncodedRanking],
    pad_id: int,
    *,
    shared: bool = True,
    row_tokens: int = 2048,
    token_targets: bool = False,
) -> dict[str, Any]:
    """All answers of all prompts of a micro-batch in ONE forward pass, in either layout (module docstring).

    Answers are numbered across the batch in item order; ``better``/``worse`` index them, and
    ``pair_element``/``answer_element`` give the prompt each pair / answer belongs to. ``answer_last`` holds the
    (row, column) of each answer's last token (where a reward is read). With ``token_targets``, the
    ``target_*`` tensors list every answer token: the (row, column) whose logits predict it, the token and
    its answer (for sequence log-probabilities).
    """
    if shared:
        layout = _shared_layout(items, pad_id, row_tokens, token_targets)
    else:
        layout = _unshared_layout(items, pad_id, token_targets)
    targets = layout.pop("targets")
    better, worse, margin, gap, pair_el, answer_el = [], [], [], [], [], []
    for e_idx, (item, base) in enumerate(zip(items, _answer_offsets(items), strict=True)):
        answer_el += [e_idx] * len(item.answers)
        for p in item.pairs:
            better.append(base + p.better)
            worse.append(base + p.worse)
            margin.append(p.margin)
            gap.append(float("nan") if p.gap is None else p.gap)
            pair_el.append(e_idx)
    batch = {
        **layout,
        "better": torch.tensor(better, dtype=torch.long),
        "worse": torch.tensor(worse, dtype=torch.long),
        "margin": torch.tensor(margin, dtype=torch.float32),
        "gap": torch.tensor(gap, dtype=torch.float32),
        "pair_element": torch.tensor(pair_el, dtype=torch.long),
        "answer_element": torch.tensor(answer_el, dtype=torch.long),
        "num_items": len(items),
        "num_tokens": sum(len(item.prompt) * (1 if shared else len(item.answers)) for item in items)
        + sum(len(a) for item in items for a in item.answers),
    }
    if any(item.ref_logps for item in items):
        batch["ref_logps"] = torch.tensor(
            [lp for item in items for lp in item.ref_logps], dtype=torch.float32
        )
    if token_targets:
        t = torch.tensor(targets, dtype=torch.long).view(-1, 4)
        batch |= {
            "target_row": t[:, 0],
            "target_col": t[:, 1],
            "target_token": t[:, 2],
            "target_answer": t[:, 3],
        }
    return batch


# --------------------------------------------------------------------------- the model side


def _flex_available() -> bool:
    try:
        import triton  # noqa: F401  (FlexAttention's CUDA kernels are generated with Triton)
        from torch.nn.attention.flex_attention import flex_attention  # noqa: F401
    except ImportError:
        return False
    return True


def choose_shared_attention(model: Any, config: Any, device: torch.device) -> str:
    """Switch a (reward model's) transformers model to FlexAttention when prefix-shared rows should use it
    (``config.shared_attention``); returns the attention implementation the run uses."""
    target = model.backbone if hasattr(model, "backbone") else model
    want = config.shared_attention
    if want == "auto":
        want = "flex" if device.type == "cuda" and _flex_available() else "sdpa"
    if config.prefix_sharing and want == "flex":
        target.set_attn_implementation("flex_attention")
    return attention_implementation(target)


def attention_implementation(model: nn.Module) -> str:
    """The attention implementation of a (DDP-, peft- or reward-head-wrapped) transformers model."""
    inner = getattr(model, "module", model)  # DistributedDataParallel
    return str(getattr(inner.config, "_attn_implementation", None) or "eager")


def _allowed(segment_ids: torch.Tensor, span_ids: torch.Tensor) -> torch.Tensor:
    """[rows, 1, L, L] boolean: may query q attend to key kv (the rule in the module docstring)."""
    q_seg, kv_seg = segment_ids[:, :, None], segment_ids[:, None, :]
    q_span, kv_span = span_ids[:, :, None], span_ids[:, None, :]
    length = segment_ids.shape[-1]
    causal = torch.ones(length, length, dtype=torch.bool, device=segment_ids.device).tril()
    return ((q_seg == kv_seg) & ((kv_span == 0) | (kv_span == q_span)) & causal)[:, None]


def _block_mask(segment_ids: torch.Tensor, span_ids: torch.Tensor) -> Any:
    from torch.nn.attention.flex_attention import create_block_mask

    def mask_mod(b: Any, h: Any, q: Any, kv: Any) -> Any:
        same = segment_ids[b, q] == segment_ids[b, kv]
        visible = (span_ids[b, kv] == 0) | (span_ids[b, kv] == span_ids[b, q])
        return same & visible & (kv <= q)

    rows, length = segment_ids.shape
    return create_block_mask(mask_mod, rows, None, length, length, device=segment_ids.device)


def attention_inputs(
    batch: dict[str, Any], model: nn.Module, dtype: torch.dtype = torch.float32
) -> dict[str, Any]:
    """``input_ids``, ``attention_mask`` and ``position_ids`` for ``model`` from a collated batch (on its device)."""
    inputs = {"input_ids": batch["input_ids"], "position_ids": batch["position_ids"]}
    if batch.get("segment_ids") is None:
        return inputs | {"attention_mask": batch["attention_mask"]}
    impl = attention_implementation(model)
    if impl not in SHARED_ATTENTION:
        raise ValueError(
            f"prefix sharing needs SDPA, eager or FlexAttention attention, not {impl!r}: "
            "load the model with one of them or set prefix_sharing off"
        )
    if impl == "flex_attention":
        return inputs | {"attention_mask": _block_mask(batch["segment_ids"], batch["span_ids"])}
    allowed = _allowed(batch["segment_ids"], batch["span_ids"])
    if impl == "sdpa":
        return inputs | {"attention_mask": allowed}
    additive = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return inputs | {"attention_mask": additive.masked_fill(~allowed, torch.finfo(dtype).min)}


def answer_logps(logits: torch.Tensor, batch: dict[str, Any], n_answers: int) -> torch.Tensor:
    """Each answer's summed log-probability of its tokens (from ``collate_ranked(..., token_targets=True)``)."""
    picked = logits[batch["target_row"], batch["target_col"]].float()
    token_logps = -nn.functional.cross_entropy(picked, batch["target_token"], reduction="none")
    out = torch.zeros(n_answers, dtype=token_logps.dtype, device=token_logps.device)
    return out.index_add(0, batch["target_answer"], token_logps)
