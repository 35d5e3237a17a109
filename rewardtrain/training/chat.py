"""Turn conversations into text, using the tokenizer's chat template when it has one.

Without a chat template the documented plain template is used::

    ### System:
    {system content}

    ### User:
    {user content}

    ### Assistant:
    {assistant content}{eos}

i.e. each message is ``"### {Role}:\\n{content}\\n\\n"``, the generation prompt is ``"### Assistant:\\n"``, and
an assistant answer ends with the tokenizer's EOS token. Prompts given as a plain string (TRL's "standard"
format) are used verbatim and the answer is appended directly, followed by EOS.
"""

from __future__ import annotations

import warnings
from typing import Any

Message = dict[str, str]
Prompt = str | list[Message]

PLAIN_ROLE_HEADERS = {"system": "### System:\n", "user": "### User:\n", "assistant": "### Assistant:\n"}


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def _eos(tokenizer: Any) -> str:
    return tokenizer.eos_token or ""


def _plain_message(message: Message) -> str:
    header = PLAIN_ROLE_HEADERS.get(message["role"], f"### {message['role'].capitalize()}:\n")
    return f"{header}{message['content']}\n\n"


def render_prompt(tokenizer: Any, prompt: Prompt) -> str:
    """Text the model sees before it starts answering (includes the generation prompt)."""
    if isinstance(prompt, str):
        return prompt
    if has_chat_template(tokenizer):
        return tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
    return "".join(_plain_message(m) for m in prompt) + PLAIN_ROLE_HEADERS["assistant"]


def render_answer(tokenizer: Any, prompt: Prompt, answer: str | list[Message]) -> str:
    """Text that follows ``render_prompt(prompt)`` for this answer, including the end-of-turn marker.

    ``answer`` is a string or a list of assistant messages (TRL conversational completion).
    """
    if isinstance(answer, list):
        completion = list(answer)
        answer_text = "\n\n".join(m["content"] for m in completion)
    else:
        completion = [{"role": "assistant", "content": answer}]
        answer_text = answer
    if isinstance(prompt, str) or not has_chat_template(tokenizer):
        # Multi-message completions are joined with blank lines under the plain template.
        return answer_text + _eos(tokenizer)
    prompt_text = render_prompt(tokenizer, prompt)
    full = tokenizer.apply_chat_template(list(prompt) + completion, tokenize=False)
    if full.startswith(prompt_text):
        return full[len(prompt_text) :]
    # Some templates rewrite earlier turns (e.g. strip reasoning) so the prompt is not a prefix of the full
    # conversation; fall back to the raw answer followed by EOS rather than mis-aligning the loss mask.
    warnings.warn(
        "chat template output does not start with the rendered prompt; using answer + EOS", stacklevel=2
    )
    return answer_text + _eos(tokenizer)


def split_conversation(messages: list[Message]) -> tuple[list[Message], str]:
    """Split an SFT conversation into (prompt messages, final assistant answer)."""
    if not messages or messages[-1].get("role") != "assistant":
        raise ValueError("the last message of an SFT conversation must be an assistant message")
    return list(messages[:-1]), messages[-1]["content"]
