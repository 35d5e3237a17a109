"""Chat rendering, tokenisation/masking, grouping of comparisons, collation and sharding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rewardtrain.training.chat import render_answer, render_prompt
from rewardtrain.training.data import (
    IGNORE_INDEX,
    MicroBatchPlan,
    collate_sft,
    encode_prompt,
    encode_prompt_answer,
    pack_sft,
    records_to_ranked_prompts,
    resolve_data_files,
    tokenize_sft,
)
from rewardtrain.training.distributed import shard_indices
from rewardtrain.training.modeling import last_token_index, load_model_and_tokenizer, load_tokenizer
from rewardtrain.training.ranked_batch import EncodedRanking, collate_ranked, tokenize_rankings
from rewardtrain.training.sft import sft_loss_from_logits, sft_loss_sum

from .helpers import sft_records, write_jsonl

CONV = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]


def test_chat_template_rendering(tiny_dir: Path) -> None:
    tok = load_tokenizer(str(tiny_dir))
    assert render_prompt(tok, CONV) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert render_answer(tok, CONV, "hello") == "hello<|im_end|>\n"
    # TRL conversational completion (list of assistant messages) renders the same way
    assert render_answer(tok, CONV, [{"role": "assistant", "content": "hello"}]) == "hello<|im_end|>\n"
    # standard (string) prompts are used verbatim, answer + EOS appended
    assert render_prompt(tok, "Q: 2+2? A:") == "Q: 2+2? A:"
    assert render_answer(tok, "Q: 2+2? A:", " 4") == " 4<|endoftext|>"


def test_plain_template_rendering(tiny_llama_plain_dir: Path) -> None:
    tok = load_tokenizer(str(tiny_llama_plain_dir))
    assert not tok.chat_template
    assert render_prompt(tok, CONV) == "### System:\nBe brief.\n\n### User:\nhi\n\n### Assistant:\n"
    assert render_answer(tok, CONV, "hello") == "hello<|endoftext|>"


@pytest.mark.parametrize("fixture", ["tiny_dir", "tiny_llama_plain_dir"])
def test_sft_labels_mask_exactly_the_prompt(fixture: str, request: pytest.FixtureRequest) -> None:
    tok = load_tokenizer(str(request.getfixturevalue(fixture)))
    rec = sft_records(1)[0]
    [ex] = tokenize_sft([rec], tok, max_length=512)
    n_prompt = len(encode_prompt(tok, rec["messages"][:-1]))
    answer_ids = tok(render_answer(tok, rec["messages"][:-1], rec["messages"][-1]["content"]))["input_ids"]
    assert ex.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert ex.labels[n_prompt:] == ex.input_ids[n_prompt:] == answer_ids
    assert tok.decode(ex.input_ids[n_prompt:]).startswith("number 0 is even")


def test_sft_loss_ignores_prompt_tokens(tiny_dir: Path) -> None:
    model, tok = load_model_and_tokenizer(str(tiny_dir))
    rec = sft_records(1)[0]
    [ex] = tokenize_sft([rec], tok, max_length=512)
    n_prompt = ex.labels.count(IGNORE_INDEX)
    batch = collate_sft([ex], tok.pad_token_id)
    loss, n = sft_loss_sum(model, batch)
    # Reference: cross-entropy over answer positions only, computed by hand.
    ids = torch.tensor([ex.input_ids])
    logits = model(input_ids=ids).logits.detach().requires_grad_(True)
    ref = torch.nn.functional.cross_entropy(logits[0, n_prompt - 1 : -1], ids[0, n_prompt:], reduction="sum")
    assert n == len(ex.input_ids) - n_prompt
    assert torch.allclose(loss, ref, atol=1e-5)
    # Gradient w.r.t. the logits: zero at every position predicting a prompt token, non-zero elsewhere.
    sft_loss_from_logits(logits, batch["labels"]).backward()
    per_position = logits.grad[0].abs().sum(-1)
    assert (per_position[: n_prompt - 1] == 0).all()
    assert (per_position[n_prompt - 1 : -1] > 0).all()
    # ... so any other prompt content in the labels would give the same loss
    other = batch["labels"].clone()
    other[0, :n_prompt] = IGNORE_INDEX
    assert torch.equal(sft_loss_from_logits(logits, other), sft_loss_from_logits(logits, batch["labels"]))


def test_truncation_keeps_answer_and_prompt_tail(tiny_dir: Path) -> None:
    tok = load_tokenizer(str(tiny_dir))
    long_prompt = [{"role": "user", "content": "one two three " * 50}]
    ids, n_prompt = encode_prompt_answer(tok, long_prompt, "apple", max_length=40)
    assert len(ids) == 40
    assert tok.decode(ids[n_prompt:]) == "apple<|im_end|>\n"
    assert tok.decode(ids[:n_prompt]).endswith("<|im_start|>assistant\n")


def test_packing_keeps_examples_independent(tiny_dir: Path) -> None:
    model, tok = load_model_and_tokenizer(str(tiny_dir))
    examples = tokenize_sft(sft_records(3), tok, max_length=512)
    [row] = pack_sft(examples, max_length=512)
    packed = collate_sft([row], tok.pad_token_id, packed=True)
    assert packed["attention_mask"] is None
    assert packed["num_items"] == sum(collate_sft([e], tok.pad_token_id)["num_items"] for e in examples)
    logits = model(
        input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False
    ).logits[0]
    start = 0
    for ex in examples:
        alone = model(input_ids=torch.tensor([ex.input_ids])).logits[0]
        assert torch.allclose(logits[start : start + len(ex.input_ids)], alone, atol=1e-5)
        start += len(ex.input_ids)


def test_collate_right_padding_and_last_token_index(tiny_dir: Path) -> None:
    tok = load_tokenizer(str(tiny_dir))
    prompt = [{"role": "user", "content": "q"}]
    seqs = [encode_prompt_answer(tok, prompt, a, 512)[0] for a in ["one", "one two three four five", "two"]]
    n_prompt = encode_prompt_answer(tok, prompt, "one", 512)[1]
    enc = [EncodedRanking(seqs[0][:n_prompt], [s[n_prompt:] for s in seqs], [])]
    batch = collate_ranked(enc, tok.pad_token_id, shared=False)
    lengths = [len(s) for s in seqs]
    assert batch["answer_last"].tolist() == [[i, n - 1] for i, n in enumerate(lengths)]
    assert batch["attention_mask"].sum(1).tolist() == lengths
    assert last_token_index(batch["attention_mask"]).tolist() == [n - 1 for n in lengths]
    for i, s in enumerate(seqs):
        assert batch["input_ids"][i, : len(s)].tolist() == s
    # left padding (used for generation) is handled by the same index function
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 1]])
    assert last_token_index(left).tolist() == [3, 3, 3]


def test_pairwise_records_grouped_by_prompt_id() -> None:
    prompt = [{"role": "user", "content": "q"}]

    def pair(c: str, r: str, **extra: object) -> dict[str, object]:
        return {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": c}],
            "rejected": [{"role": "assistant", "content": r}],
            **extra,
        }

    records = [
        pair("A", "B", prompt_id=1, chosen_id=10, rejected_id=11, labeler_id=3, guideline_version="v1"),
        pair("A", "C", prompt_id=1, chosen_id=10, rejected_id=12, margin=2.0),
        pair("B", "C", prompt_id=1, chosen_id=11, rejected_id=12),
        pair("X", "Y", prompt_id=2),  # no answer ids: deduplicated by text
        pair("X", "Z", prompt_id=2),
        {"prompt": "plain?", "chosen": "yes", "rejected": "no", "margin": 1.5},  # no prompt_id: own element
        {"prompt": "plain?", "chosen": "yes", "rejected": "maybe"},
    ]
    elems = records_to_ranked_prompts(records)
    assert [len(e.answers) for e in elems] == [3, 3, 2, 2]
    assert [(p.better, p.worse, p.margin) for p in elems[0].pairs] == [(0, 1, 0.0), (0, 2, 2.0), (1, 2, 0.0)]
    assert [(p.better, p.worse) for p in elems[1].pairs] == [(0, 1), (0, 2)]
    assert elems[2].pairs[0].margin == 1.5 and elems[2].pairs[0].gap == 1.5
    assert elems[3].pairs[0].gap is None


def test_kwise_pairs_skip_ties(tiny_dir: Path) -> None:
    rec = {
        "prompt": "q",
        "prompt_id": 7,
        "candidates": [
            {"id": "a", "text": "a", "tier": 0},
            {"id": "b", "text": "b", "tier": 1},
            {"id": "c", "text": "c", "tier": 1},
            {"id": "d", "text": "d", "tier": 2},
        ],
    }
    allties = {
        "prompt": "q",
        "candidates": [{"id": 1, "text": "x", "tier": 0}, {"id": 2, "text": "y", "tier": 0}],
    }
    [elem] = records_to_ranked_prompts([rec, allties])
    assert {(p.better, p.worse, p.gap) for p in elem.pairs} == {
        (0, 1, 1.0),
        (0, 2, 1.0),
        (0, 3, 2.0),
        (1, 3, 1.0),
        (2, 3, 1.0),
    }
    tok = load_tokenizer(str(tiny_dir))
    items = tokenize_rankings([elem, elem], tok, 64)
    batch = collate_ranked(items, tok.pad_token_id, shared=False)
    assert batch["input_ids"].shape[0] == 8  # K sequences per prompt, not 2 per pair
    shared = collate_ranked(items, tok.pad_token_id, row_tokens=64)
    assert shared["input_ids"].shape[0] == 1  # both prompts, each once, with their answers in one row
    assert shared["num_tokens"] == 2 * (len(items[0].prompt) + sum(len(a) for a in items[0].answers))
    assert batch["pair_element"].tolist() == [0] * 5 + [1] * 5
    assert batch["better"][5:].tolist() == [b + 4 for b in batch["better"][:5].tolist()]


def test_resolve_data_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "d" / "train.jsonl", sft_records(2))
    assert resolve_data_files(str(tmp_path / "d")) == (tmp_path / "d" / "train.jsonl", None)
    write_jsonl(tmp_path / "d" / "validation.jsonl", sft_records(2))
    assert resolve_data_files(str(tmp_path / "d"))[1] == tmp_path / "d" / "validation.jsonl"
    assert resolve_data_files(str(tmp_path / "d" / "train.jsonl")) == (tmp_path / "d" / "train.jsonl", None)
    with pytest.raises(FileNotFoundError):
        resolve_data_files(str(tmp_path / "missing"))


def test_sharding_and_plan_are_deterministic() -> None:
    shards = [shard_indices(10, 3, r, seed=1, epoch=0) for r in range(3)]
    assert all(len(s) == 4 for s in shards)
    assert set().union(*shards) == set(range(10))
    assert shard_indices(10, 3, 1, seed=1, epoch=0) == shards[1]
    assert shard_indices(10, 3, 1, seed=1, epoch=1) != shards[1]
    plan = MicroBatchPlan(10, batch_size=3, world_size=1, rank=0, seed=5)
    assert plan.per_epoch == 4
    epoch0 = [i for mb in range(4) for i in plan.indices(mb)]
    assert sorted(epoch0) == list(range(10))
    assert MicroBatchPlan(10, 3, 1, 0, 5).indices(6) == plan.indices(6)  # fresh object, same stream
