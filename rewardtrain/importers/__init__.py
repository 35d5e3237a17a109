"""Parsers of public preference data into ranked items. Pure Python: the import service writes them.

Each parser takes the file's text and returns `PreferenceItem`s (a conversation, its answers, and tiers of
answer indexes, best first) or reports every malformed record by line through `LineErrors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("system", "user", "assistant")
MAX_REPORTED_ERRORS = 200


@dataclass
class PreferenceItem:
    line: int
    messages: list[dict[str, str]]
    answers: list[str]
    tiers: list[list[int]]  # indexes into `answers`, best first
    source_id: str = ""


@dataclass
class LineError:
    line: int
    message: str
    field: str | None = None


@dataclass
class LineErrors:
    items: list[LineError] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, message: str, field_name: str | None = None) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED_ERRORS:
            self.items.append(LineError(line, message, field_name))


def message_problems(messages: object, field_name: str) -> list[str]:
    """What is wrong with a prompt conversation (empty contents are allowed: public data has some)."""
    if not isinstance(messages, list) or not messages:
        return [f"{field_name} must be a non-empty list of {{role, content}} messages"]
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return [f"{field_name}[{i}] must be {{role: system|user|assistant, content: string}}"]
    if messages[-1]["role"] != "user":
        return [f"{field_name} must end with a user message (the answers reply to it)"]
    return []
