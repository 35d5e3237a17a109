"""Loss on every assistant turn of a written dialogue: span location, fallbacks, truncation, packing, training."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from rewardtrain.training.config import SFTConfig
from rewardtrain.training.data import IGNORE_INDEX, collate_sft, pack_sft, read_jsonl, tokenize_sft
from rewardtrain.training.modeling import load_model_and_tokenizer, load_tokenizer
from rewardtrain.training.sft import sft_loss_sum, train_sft
from rewardtrain.training.tiny import build_tiny_tokenizer
from rewardtrain.training.turns import LAST_TURN_FALLBACK, SEGMENT_FALLBACK, render_conversation

from .helpers import CORPUS, sft_records, write_jsonl

ANSWERS = ["hello, how can I help you today?", "The capital of France is Paris.", "one two three"]
# SmolLM2-Instruct's template (as its GGUF ships it): a default system turn when the conversation has none.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# No separators between turns: "...Paris.user: ..." merges into one BPE word across the turn boundary.
GLUED_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)
# Rewrites earlier assistant turns once later turns follow (like templates that drop earlier reasoning).
REWRITING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' and not loop.last %}(earlier answer){% else %}{{ m['content'] }}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def dialogue(i: int = 0, system: bool = True) -> dict[str, Any]:
    turns = [{"role": "system", "content": "Be brief."}] if system else []
    for n, answer in enumerate(ANSWERS):
        turns += [
            {"role": "user", "content": f"question {i}-{n}: what is the answer?"},
            {"role": "assistant", "content": answer if i == 0 else f"{answer} {i}"},
        ]
    return {"messages": turns, "dialogue_id": i, "metadata": {"source": "dialogue"}}


def labelled_runs(labels: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    previous = IGNORE_INDEX
    for label in labels:
        if label != IGNORE_INDEX:
            if previous == IGNORE_INDEX:
                runs.append([])
            runs[-1].append(label)
        previous = label
    return runs


def tokenizer_with(template: str | None) -> Any:
    tok = build_tiny_tokenizer(CORPUS, chat_template=False)
    tok.chat_template = template
    return tok


@pytest.fixture(params=["chatml", "plain", "smollm2"])
def tok_and_ends(request: pytest.FixtureRequest) -> tuple[Any, list[str]]:
    """A tokenizer and how each assistant turn ends under its template."""
    if request.param == "chatml":
        return load_tokenizer(str(request.getfixturevalue("tiny_dir"))), ["<|im_end|>\n"] * 3
    if request.param == "plain":
        # The plain template: earlier assistant turns end with a blank line, the last one with EOS.
        return load_tokenizer(str(request.getfixturevalue("tiny_llama_plain_dir"))), [
            "\n\n",
            "\n\n",
            "<|endoftext|>",
        ]
    return tokenizer_with(SMOLLM2_TEMPLATE), ["<|im_end|>\n"] * 3


@pytest.mark.parametrize("system", [True, False])
def test_labels_lie_exactly_on_the_three_assistant_turns(
    tok_and_ends: tuple[Any, list[str]], system: bool
) -> None:
    tok, ends = tok_and_ends
    rec = dialogue(system=system)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the main path: no fallback
        [ex] = tokenize_sft([rec], tok, max_length=512)
    # The whole conversation is tokenised at once, as the model sees it at inference.
    special = not tok.chat_template
    assert (
        ex.input_ids
        == tok(render_conversation(tok, rec["messages"]), add_special_tokens=special)["input_ids"]
    )
    assert all(label in (IGNORE_INDEX, token) for label, token in zip(ex.labels, ex.input_ids, strict=True))
    runs = labelled_runs(ex.labels)
    assert [tok.decode(run) for run in runs] == [a + end for a, end in zip(ANSWERS, ends, strict=True)]
    masked = tok.decode(
        [t for t, label in zip(ex.input_ids, ex.labels, strict=True) if label == IGNORE_INDEX]
    )
    assert all(f"question 0-{n}" in masked for n in range(3)) and not any(a in masked for a in ANSWERS)


def test_single_answer_records_and_last_mode_are_unchanged(tiny_dir: Path) -> None:
    tok = load_tokenizer(str(tiny_dir))
    single = sft_records(3)
    base = tokenize_sft(single, tok, 512)
    for mode in ("auto", "all", "last"):
        assert tokenize_sft(single, tok, 512, assistant_turns=mode) == base
    rec = dialogue()
    # A demonstration (no dialogue metadata) or "last" learns only the final turn, as before.
    as_demo = {"messages": rec["messages"]}
    [last] = tokenize_sft([rec], tok, 512, assistant_turns="last")
    assert tokenize_sft([as_demo], tok, 512) == [last]
    assert [tok.decode(r) for r in labelled_runs(last.labels)] == [ANSWERS[-1] + "<|im_end|>\n"]
    [every] = tokenize_sft([as_demo], tok, 512, assistant_turns="all")
    assert len(labelled_runs(every.labels)) == 3
    with pytest.raises(ValueError, match="assistant_turns"):
        tokenize_sft(single, tok, 512, assistant_turns="some")


def test_merge_across_a_turn_boundary_tokenises_turn_by_turn() -> None:
    tok = tokenizer_with(GLUED_TEMPLATE)
    rec = dialogue()
    text = render_conversation(tok, rec["messages"])
    assert "Paris.user: " in text
    with pytest.warns(UserWarning, match="turn by turn"):
        [ex] = tokenize_sft([rec], tok, max_length=512)
    assert SEGMENT_FALLBACK.endswith("turn by turn instead")
    assert tok.decode(ex.input_ids) == text
    assert [tok.decode(r) for r in labelled_runs(ex.labels)] == ANSWERS


def test_template_rewriting_earlier_turns_falls_back_to_the_last_turn() -> None:
    tok = tokenizer_with(REWRITING_TEMPLATE)
    with pytest.warns(UserWarning, match="not prefix-preserving") as caught:
        [ex] = tokenize_sft([dialogue()], tok, max_length=512)
    assert str(caught[0].message) == LAST_TURN_FALLBACK
    assert [tok.decode(r) for r in labelled_runs(ex.labels)] == [ANSWERS[-1] + "<|im_end|>\n"]


def test_truncation_keeps_the_last_turn_and_aligned_labels(tiny_dir: Path) -> None:
    tok = load_tokenizer(str(tiny_dir))
    rec = dialogue()
    rec["messages"][1]["content"] = "one two three " * 40  # a long first question
    [full] = tokenize_sft([rec], tok, max_length=2048)
    [cut] = tokenize_sft([rec], tok, max_length=60)
    assert len(cut.input_ids) == 60 and len(full.input_ids) > 60
    # The prompt is cut from the left: the kept tokens are the tail of the full sequence, labels aligned.
    assert cut.input_ids == full.input_ids[-60:] and cut.labels == full.labels[-60:]
    assert tok.decode(labelled_runs(cut.labels)[-1]) == ANSWERS[-1] + "<|im_end|>\n"
    # An answer longer than the budget keeps max_length // 2 tokens of context and is cut from the right.
    rec["messages"][-1]["content"] = "apple banana " * 60
    [long_answer] = tokenize_sft([rec], tok, max_length=40)
    assert len(long_answer.input_ids) == 40 and long_answer.labels[:20] == [IGNORE_INDEX] * 20
    assert long_answer.labels[20:] == long_answer.input_ids[20:]


def test_packed_dialogues_keep_their_labels(tiny_dir: Path) -> None:
    model, tok = load_model_and_tokenizer(str(tiny_dir))
    examples = tokenize_sft([dialogue(i) for i in range(3)] + sft_records(2), tok, max_length=1024)
    rows = pack_sft(examples, max_length=1024)
    assert len(rows) == 1 and rows[0].labels == [label for ex in examples for label in ex.labels]
    packed = collate_sft(rows, tok.pad_token_id, packed=True)
    alone = [collate_sft([ex], tok.pad_token_id) for ex in examples]
    assert packed["num_items"] == sum(batch["num_items"] for batch in alone)
    with torch.no_grad():
        loss, _ = sft_loss_sum(model, packed)
        separate = sum(float(sft_loss_sum(model, batch)[0]) for batch in alone)
    assert float(loss) == pytest.approx(separate, rel=1e-4)


def first_turn_loss(model_dir: Path, rec: dict[str, Any]) -> float:
    """Mean loss on the first assistant turn's tokens, with the conversation up to it as context."""
    model, tok = load_model_and_tokenizer(str(model_dir))
    [ex] = tokenize_sft([{"messages": rec["messages"][:3]}], tok, max_length=512)
    with torch.no_grad():
        loss, n = sft_loss_sum(model, collate_sft([ex], tok.pad_token_id))
    return float(loss) / n


@pytest.mark.slow
def test_sft_on_dialogues_learns_every_assistant_turn(tiny_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "dialogues.jsonl", [dialogue(i) for i in range(4)])
    assert read_jsonl(data)[0]["metadata"] == {"source": "dialogue"}
    common = {"data": str(data), "model": str(tiny_dir), "max_steps": 30, "batch_size": 4, "lr": 1e-2}
    losses: list[float] = []
    result = train_sft(
        SFTConfig(out=str(tmp_path / "all"), **common),
        progress=lambda e: losses.append(e.loss) if e.kind == "step" else None,
    )
    assert result.steps == 30 and losses[-1] < 0.5 * losses[0], losses
    train_sft(SFTConfig(out=str(tmp_path / "last"), assistant_turns="last", **common))
    # Only the run that put loss on the earlier turns learnt them.
    rec = dialogue(1)
    assert first_turn_loss(tmp_path / "all", rec) < 0.5 * first_turn_loss(tmp_path / "last", rec)
