"""Loss on every assistant turn of a conversation ("assistant-only loss", as TRL's ``assistant_only_loss``).

The conversation is rendered once (chat template, or the plain template of ``chat.py``) and tokenised as a
whole, so the tokens are the ones the model sees at inference. Each assistant turn's span is found by rendering
the conversation's prefixes — up to the turn's generation prompt (its start) and up to the end of the turn (its
end) — tokenising them and checking that they are token prefixes of the whole. The span carries loss,
everything else (system and user turns, role headers) is masked.

When a prefix is not a token prefix of the whole (a BPE merge across a turn boundary, or a tokenizer that
appends a token after every text), the turns are tokenised one text segment at a time and concatenated, like
``encode_prompt_answer`` does for one answer. When a prefix is not even a text prefix (a template that rewrites
earlier turns, e.g. drops their reasoning), the record falls back to the final turn only, with a warning.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

from .chat import (
    PLAIN_ROLE_HEADERS,
    Message,
    _plain_message,
    has_chat_template,
    render_answer,
    render_prompt,
)

Span = tuple[int, int]
ASSISTANT_TURNS = ("auto", "all", "last")

SEGMENT_FALLBACK = (
    "tokenising the whole conversation does not give each assistant turn's prefix as a token prefix; "
    "tokenising turn by turn instead"
)
LAST_TURN_FALLBACK = (
    "the chat template renders earlier turns differently once later turns follow (it is not prefix-"
    "preserving); learning only the final assistant turn of this conversation"
)


class NotPrefixPreserving(ValueError):
    """The template rewrites earlier turns when later ones follow, so turn spans cannot be located."""


def render_conversation(tokenizer: Any, messages: list[Message]) -> str:
    """The whole conversation as training text: the prompt rendering of all turns but the last, then the last
    (assistant) turn as ``render_answer`` writes it, end-of-turn marker included."""
    if has_chat_template(tokenizer):
        return tokenizer.apply_chat_template(list(messages), tokenize=False)
    return render_prompt(tokenizer, messages[:-1]) + render_answer(
        tokenizer, messages[:-1], messages[-1]["content"]
    )


def _render_prefix(tokenizer: Any, messages: list[Message], generation_prompt: bool) -> str:
    if not messages and not generation_prompt:
        return ""
    if has_chat_template(tokenizer):
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=generation_prompt
        )
    # Under the plain template an earlier assistant turn ends with a blank line (only the last one has EOS).
    return "".join(_plain_message(m) for m in messages) + (
        PLAIN_ROLE_HEADERS["assistant"] if generation_prompt else ""
    )


def assistant_char_spans(tokenizer: Any, messages: list[Message]) -> tuple[str, list[Span]]:
    """The rendered conversation and the character span of each assistant turn (content and end-of-turn
    marker, not the role header). Raises ``NotPrefixPreserving`` when a prefix is not a text prefix."""
    text = render_conversation(tokenizer, messages)
    last = len(messages) - 1
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _render_prefix(tokenizer, messages[:i], generation_prompt=True)
        through = text if i == last else _render_prefix(tokenizer, messages[: i + 1], generation_prompt=False)
        if not (text.startswith(before) and text.startswith(through) and len(before) <= len(through)):
            raise NotPrefixPreserving(f"assistant turn {i} is rendered differently once later turns follow")
        spans.append((len(before), len(through)))
    return text, spans


def _encode(tokenizer: Any, text: str, special: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def encode_turns(tokenizer: Any, messages: list[Message]) -> tuple[list[int], list[Span]]:
    """Token ids of the whole conversation and the token span ``[start, end)`` of each assistant turn.

    Raises ``NotPrefixPreserving`` (see ``assistant_char_spans``)."""
    text, char_spans = assistant_char_spans(tokenizer, messages)
    # Chat-template text holds its own special tokens; plain text gets the tokenizer's (e.g. Llama's BOS).
    special = not has_chat_template(tokenizer)
    ids = _encode(tokenizer, text, special)
    token_at: dict[int, int] = {0: 0, len(text): len(ids)}
    for cut in sorted({c for span in char_spans for c in span} - token_at.keys()):
        prefix = _encode(tokenizer, text[:cut], special)
        if ids[: len(prefix)] != prefix:
            return _encode_segments(tokenizer, text, char_spans, special)
        token_at[cut] = len(prefix)
    return ids, [(token_at[s], token_at[e]) for s, e in char_spans]


def _encode_segments(
    tokenizer: Any, text: str, char_spans: list[Span], special: bool
) -> tuple[list[int], list[Span]]:
    """Tokenise the text between span boundaries separately, so every boundary falls between tokens."""
    warnings.warn(SEGMENT_FALLBACK, stacklevel=3)
    cuts = sorted({0, len(text), *(c for span in char_spans for c in span)})
    ids: list[int] = []
    token_at = {0: 0}
    for a, b in itertools.pairwise(cuts):
        ids.extend(_encode(tokenizer, text[a:b], special and a == 0))
        token_at[b] = len(ids)
    return ids, [(token_at[s], token_at[e]) for s, e in char_spans]


def truncate(
    ids: list[int], labels: list[int], answer_start: int, max_length: int
) -> tuple[list[int], list[int]]:
    """Cut like ``encode_prompt_answer``: what precedes ``answer_start`` (the last assistant turn) is the prompt,
    cut from the left down to ``max_length // 2`` tokens; then the last turn is cut from the right."""
    if len(ids) <= max_length:
        return ids, labels
    keep = max(max_length - (len(ids) - answer_start), min(answer_start, max_length // 2))
    lo = answer_start - keep
    return ids[lo : lo + max_length], labels[lo : lo + max_length]


def learns_all_turns(record: dict[str, Any], mode: str) -> bool:
    """Whether a record's every assistant turn carries loss: ``all``, ``last``, or ``auto`` (written dialogues,
    ``metadata.source == "dialogue"``, play the assistant in every turn; other records only in the last)."""
    if mode not in ASSISTANT_TURNS:
        raise ValueError(f"assistant_turns must be one of {', '.join(ASSISTANT_TURNS)}, not {mode!r}")
    if mode != "auto":
        return mode == "all"
    metadata = record.get("metadata") or {}
    return isinstance(metadata, dict) and metadata.get("source") == "dialogue"
