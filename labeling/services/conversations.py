"""Validation of prompts as conversations (lists of role/content messages)."""

from labeling.services.errors import FieldError

ROLES = ("system", "user", "assistant")
MAX_MESSAGE_CHARS = 32_000
MAX_MESSAGES = 200
MAX_DIALOGUE_CHARS = 200_000


def conversation_errors(messages: object, field: str = "messages") -> list[FieldError]:
    """Return what is wrong with a conversation; empty when it is valid.

    A valid prompt is a non-empty list of {"role", "content"} messages whose last message is the user's, so that
    the next turn to write is the assistant's.
    """
    if not isinstance(messages, list) or not messages:
        return [FieldError("must be a non-empty list of {role, content} messages", field)]
    if len(messages) > MAX_MESSAGES:
        return [FieldError(f"has {len(messages)} messages; at most {MAX_MESSAGES} are allowed", field)]
    errors: list[FieldError] = []
    for i, message in enumerate(messages):
        where = f"{field}[{i}]"
        if not isinstance(message, dict):
            errors.append(FieldError("must be an object with role and content", where))
            continue
        extra = set(message) - {"role", "content"}
        if extra:
            errors.append(FieldError(f"has unknown keys {sorted(extra)}", where))
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            errors.append(
                FieldError(f"role must be one of {', '.join(ROLES)}, not {role!r}", f"{where}.role")
            )
        if not isinstance(content, str) or not content.strip():
            errors.append(FieldError("content must be a non-empty string", f"{where}.content"))
        elif len(content) > MAX_MESSAGE_CHARS:
            errors.append(
                FieldError(
                    f"content has {len(content)} characters; at most {MAX_MESSAGE_CHARS}", f"{where}.content"
                )
            )
    if not errors and messages[-1]["role"] != "user":
        errors.append(FieldError("the last message must be the user's (the assistant answers next)", field))
    return errors


def as_conversation(prompt_text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt_text}]


def dialogue_errors(messages: object, field: str = "messages") -> list[FieldError]:
    """What is wrong with a written dialogue; empty when it is valid.

    A dialogue is an optional system turn, then user and assistant turns alternating, starting with the user's
    and ending with the assistant's (at least one exchange). Each problem names its turn (1-based, as shown).
    """
    if not isinstance(messages, list) or not messages:
        return [FieldError("must be a non-empty list of {role, content} turns", field)]
    if len(messages) > MAX_MESSAGES:
        return [FieldError(f"has {len(messages)} turns; at most {MAX_MESSAGES} are allowed", field)]
    errors: list[FieldError] = []
    offset = 1 if isinstance(messages[0], dict) and messages[0].get("role") == "system" else 0
    for i, message in enumerate(messages):
        where, turn = f"{field}[{i}]", f"turn {i + 1}"
        if not isinstance(message, dict):
            errors.append(FieldError(f"{turn} must be an object with role and content", where))
            continue
        extra = set(message) - {"role", "content"}
        if extra:
            errors.append(FieldError(f"{turn} has unknown keys {sorted(extra)}", where))
        role, content = message.get("role"), message.get("content")
        if i >= offset:
            expected = "user" if (i - offset) % 2 == 0 else "assistant"
            if role != expected:
                after = "the system turn" if i == offset and offset else "the dialogue's start"
                if i > offset:
                    after = f"a {'user' if expected == 'assistant' else 'assistant'} turn"
                errors.append(
                    FieldError(
                        f"{turn} must be the {expected}'s (it follows {after}), not {role!r}", f"{where}.role"
                    )
                )
        if not isinstance(content, str) or not content.strip():
            errors.append(FieldError(f"{turn} ({role}) is empty: write its content", f"{where}.content"))
        elif len(content) > MAX_MESSAGE_CHARS:
            errors.append(
                FieldError(
                    f"{turn} has {len(content)} characters; at most {MAX_MESSAGE_CHARS}", f"{where}.content"
                )
            )
    if errors:
        return errors
    if len(messages) == offset:
        return [FieldError("needs at least one user turn and the assistant's answer", field)]
    if messages[-1]["role"] != "assistant":
        return [
            FieldError(f"turn {len(messages)} is the user's: a dialogue ends with the assistant's", field)
        ]
    total = sum(len(m["content"]) for m in messages)
    if total > MAX_DIALOGUE_CHARS:
        return [FieldError(f"has {total} characters in all; at most {MAX_DIALOGUE_CHARS}", field)]
    return errors


SNIPPET_CHARS = 120


def conversation_snippet(messages: object, limit: int = SNIPPET_CHARS) -> str:
    """The first user turn of a conversation (the first turn when none is the user's), on one line and cut to
    `limit` characters with an ellipsis: what a list row shows of a task. Plain text; "" for no usable turn."""
    if not isinstance(messages, list):
        return ""
    turns = [m for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)]
    first = next((m for m in turns if m.get("role") == "user"), turns[0] if turns else None)
    if first is None:
        return ""
    text = " ".join(first["content"].split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
