"""The three source formats: Anthropic HH-RLHF, TRL preference JSONL, OpenAssistant oasst1 message trees."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from labeling.services.jsonl import json_lines
from rewardtrain.formats.hh_rlhf import split_hh_record
from rewardtrain.importers import LineErrors, PreferenceItem, message_problems

FORMATS = ("hh", "trl", "oasst")


def _pair(
    line: int, messages: list[dict[str, str]], chosen: str, rejected: str, errors: LineErrors
) -> PreferenceItem | None:
    if chosen == rejected:
        errors.add(line, "chosen and rejected are the same answer", "rejected")
        return None
    return PreferenceItem(line, messages, [chosen, rejected], [[0], [1]])


def parse_hh(text: str, errors: LineErrors) -> list[PreferenceItem]:
    """`{"chosen": transcript, "rejected": transcript}` per line, split by `split_hh_record`."""
    items = []
    for line, obj in json_lines(text, errors):
        chosen, rejected = obj.get("chosen"), obj.get("rejected")
        if not isinstance(chosen, str) or not isinstance(rejected, str):
            errors.add(line, "chosen and rejected must both be transcript strings", "chosen")
            continue
        try:
            record = split_hh_record(chosen, rejected)
        except ValueError as exc:
            errors.add(line, str(exc), "chosen")
            continue
        item = _pair(line, record.prompt, record.chosen, record.rejected, errors)
        if item is not None:
            items.append(item)
    return items


def _completion(value: Any, name: str, line: int, errors: LineErrors) -> str | None:
    """A standard answer (string) or a conversational one (a list of assistant messages, joined)."""
    if isinstance(value, str):
        return value
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(m, dict) and m.get("role") == "assistant" and isinstance(m.get("content"), str)
            for m in value
        )
    ):
        return "\n\n".join(m["content"] for m in value)
    errors.add(line, "must be a string or a list of assistant messages", name)
    return None


def parse_trl(text: str, errors: LineErrors) -> list[PreferenceItem]:
    """TRL preference records: `prompt`/`chosen`/`rejected` as strings (standard) or message lists
    (conversational). A string prompt becomes one user message."""
    items = []
    for line, obj in json_lines(text, errors):
        prompt = obj.get("prompt")
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        problems = message_problems(messages, "prompt")
        for problem in problems:
            errors.add(line, problem, "prompt")
        chosen = _completion(obj.get("chosen"), "chosen", line, errors)
        rejected = _completion(obj.get("rejected"), "rejected", line, errors)
        if problems or chosen is None or rejected is None:
            continue
        messages = [{"role": m["role"], "content": m["content"]} for m in messages]
        item = _pair(line, messages, chosen, rejected, errors)
        if item is not None:
            items.append(item)
    return items


_OASST_ROLES = {"prompter": "user", "assistant": "assistant"}


def _flatten_tree(
    node: Any, parent_id: str | None, line: int, out: list[tuple[int, dict]], errors: LineErrors
) -> None:
    if not isinstance(node, dict):
        errors.add(line, "every node of a message tree must be an object")
        return
    flat = {k: v for k, v in node.items() if k != "replies"}
    flat.setdefault("parent_id", parent_id)
    out.append((line, flat))
    replies = node.get("replies") or []
    if not isinstance(replies, list):
        errors.add(line, "replies must be a list", "replies")
        return
    for reply in replies:
        _flatten_tree(reply, node.get("message_id"), line, out, errors)


def parse_oasst(text: str, errors: LineErrors) -> list[PreferenceItem]:
    """oasst1 messages, flat (one message per line: message_id, parent_id, role, text, rank) or as trees (one
    tree per line: `{"message_tree_id", "prompt": {message..., "replies": [...]}}`). Each set of two or more
    ranked assistant replies to one prompter message becomes a ranking of that conversation; `rank` 0 is best
    and equal ranks are ties. Unranked replies are left out."""
    messages: list[tuple[int, dict]] = []
    for line, obj in json_lines(text, errors):
        if "prompt" in obj and isinstance(obj["prompt"], dict):
            _flatten_tree(obj["prompt"], None, line, messages, errors)
        else:
            messages.append((line, obj))
    by_id: dict[str, tuple[int, dict]] = {}
    for line, m in messages:
        mid, role, body = m.get("message_id"), m.get("role"), m.get("text")
        if not isinstance(mid, str) or not mid:
            errors.add(line, "message_id must be a non-empty string", "message_id")
        elif role not in _OASST_ROLES:
            errors.add(line, f"role must be prompter or assistant, not {role!r}", "role")
        elif not isinstance(body, str):
            errors.add(line, "text must be a string", "text")
        elif m.get("rank") is not None and (not isinstance(m["rank"], int) or isinstance(m["rank"], bool)):
            errors.add(line, "rank must be an integer or null", "rank")
        elif mid in by_id:
            errors.add(line, f"message {mid} already appears on line {by_id[mid][0]}", "message_id")
        else:
            by_id[mid] = (line, m)
    ranked: dict[str, list[dict]] = defaultdict(list)
    for line, m in by_id.values():
        parent = m.get("parent_id")
        if parent is not None and parent not in by_id:
            errors.add(line, f"parent {parent} is not in the file", "parent_id")
        elif m["role"] == "assistant" and m.get("rank") is not None and parent is not None:
            ranked[parent].append(m)
    items = []
    for parent_id, replies in ranked.items():
        line, parent = by_id[parent_id]
        if len(replies) < 2 or parent["role"] != "prompter":
            continue
        conversation = _conversation(parent_id, by_id)
        if conversation is None:
            errors.add(line, "the conversation above this message has a cycle", "parent_id")
            continue
        replies.sort(key=lambda m: (m["rank"], m["message_id"]))
        tiers: list[list[int]] = []
        last_rank = None
        for i, reply in enumerate(replies):
            if reply["rank"] != last_rank:
                tiers.append([])
                last_rank = reply["rank"]
            tiers[-1].append(i)
        texts = [r["text"] for r in replies]
        if len(set(texts)) != len(texts):
            errors.add(line, "two ranked replies to this message have the same text", "text")
            continue
        if len(tiers) < 2:
            continue  # every reply tied: no preference to learn
        items.append(PreferenceItem(line, conversation, texts, tiers, source_id=parent_id))
    items.sort(key=lambda item: (item.line, item.source_id))
    return items


def _conversation(message_id: str, by_id: dict[str, tuple[int, dict]]) -> list[dict[str, str]] | None:
    chain: list[dict[str, str]] = []
    seen: set[str] = set()
    current: str | None = message_id
    while current is not None:
        if current in seen:
            return None
        seen.add(current)
        _, m = by_id[current]
        chain.append({"role": _OASST_ROLES[m["role"]], "content": m["text"]})
        current = m.get("parent_id")
    return chain[::-1]


PARSERS = {"hh": parse_hh, "trl": parse_trl, "oasst": parse_oasst}
