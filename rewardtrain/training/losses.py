"""Reward-model losses.

K-wise loss (InstructGPT): for a prompt with K ranked answers and its set of comparison pairs P,

    loss(prompt) = 1/|P| * sum_{(b, w) in P} -log sigmoid(r_b - r_w - margin_scale * m_bw)
                   + center_coef * mean_k(r_k ** 2)

All K answers come from one forward pass, and every prompt weighs the same in the batch loss no matter
how many pairs it has (batch loss = mean over prompts), which is InstructGPT's choice: treating the
C(K, 2) comparisons of a prompt as one element avoids over-fitting to the prompts with many answers.
A plain pairwise record is simply a prompt with K=2 and one pair.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pairwise_loss(
    r_better: torch.Tensor,
    r_worse: torch.Tensor,
    margin: torch.Tensor | None = None,
    margin_scale: float = 0.0,
) -> torch.Tensor:
    """Per-pair Bradley-Terry loss ``-log sigmoid(r_b - r_w - margin_scale * margin)``."""
    diff = r_better - r_worse
    if margin is not None and margin_scale:
        diff = diff - margin_scale * margin
    return -F.logsigmoid(diff)


def _segment_mean(values: torch.Tensor, segment: torch.Tensor, num_segments: int) -> torch.Tensor:
    total = torch.zeros(num_segments, dtype=values.dtype, device=values.device).index_add(0, segment, values)
    count = torch.zeros(num_segments, dtype=values.dtype, device=values.device).index_add(
        0, segment, torch.ones_like(values)
    )
    return total / count.clamp(min=1)


def kwise_loss(
    rewards: torch.Tensor,
    better: torch.Tensor,
    worse: torch.Tensor,
    pair_element: torch.Tensor,
    answer_element: torch.Tensor,
    num_elements: int,
    margin: torch.Tensor | None = None,
    margin_scale: float = 0.0,
    center_coef: float = 0.0,
) -> torch.Tensor:
    """Per-prompt losses, shape ``[num_elements]`` (see the module docstring).

    ``rewards`` holds one reward per answer row; ``better``/``worse`` index rows; ``pair_element`` and
    ``answer_element`` map pairs and rows to their prompt.
    """
    per_pair = pairwise_loss(rewards[better], rewards[worse], margin, margin_scale)
    loss = _segment_mean(per_pair, pair_element, num_elements)
    if center_coef:
        loss = loss + center_coef * _segment_mean(rewards.pow(2), answer_element, num_elements)
    return loss
