"""Validation of prompts as conversations (lists of role/content messages)."""

from labeling.services.errors import FieldError

ROLES = ("system", "user", "assistant")
MAX_MESSAGE_CHARS = 32_000
MAX_MESSAGES = 200


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
