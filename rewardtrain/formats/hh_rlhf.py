"""Anthropic HH-RLHF records (``{"chosen": str, "rejected": str}``) split into prompt + two responses.

Each string is a whole dialogue ``"\\n\\nHuman: ...\\n\\nAssistant: ...\\n\\nHuman: ...\\n\\nAssistant: <final>"``;
``chosen`` and ``rejected`` share the context and differ only in the final assistant response. The split
follows the dataset's SOURCE.md (and TRL's ``examples/datasets/hh-rlhf-helpful-base.py``): take the longest
common prefix of the two strings and cut it back to the last ``"\\n\\nAssistant:"`` inside it. Everything
before that point is the prompt; the rest of each string (after the marker and one leading space) is the
response. Cutting each string at its own last ``"\\n\\nAssistant:"`` would be wrong: a few responses
themselves contain ``"Human:"``/``"Assistant:"`` text.

Pure Python: no Django, no torch.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ASSISTANT_MARKER = "\n\nAssistant:"
HUMAN_MARKER = "\n\nHuman:"
ROLES = {"Human": "user", "Assistant": "assistant"}
_TURN_RE = re.compile(r"\n\n(Human|Assistant):")


@dataclass
class HHRecord:
    prompt: list[dict[str, str]]
    """The conversation before the final answer: ``{"role": "user"|"assistant", "content": str}`` turns,
    starting with a user turn and ending with one."""
    chosen: str
    """The preferred final assistant response (may be ``""``: a few records have an empty one)."""
    rejected: str
    prompt_text: str = field(default="", repr=False)
    """The raw prompt string (everything before the final ``"\\n\\nAssistant:"``), for exact reassembly:
    ``prompt_text + "\\n\\nAssistant: " + chosen`` is the original ``chosen`` string (see ``reassemble``)."""
    chosen_sep: str = field(default=" ", repr=False)
    rejected_sep: str = field(default=" ", repr=False)
    """What separated the marker from each response: ``" "`` normally, ``""`` when the response did not
    start with a space (e.g. an empty response)."""

    def reassemble(self) -> tuple[str, str]:
        """The original ``(chosen, rejected)`` strings."""
        head = self.prompt_text + ASSISTANT_MARKER
        return head + self.chosen_sep + self.chosen, head + self.rejected_sep + self.rejected


def _common_prefix_len(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def parse_turns(text: str) -> list[dict[str, str]]:
    """``"\\n\\nHuman: a\\n\\nAssistant: b"`` -> ``[{"role": "user", "content": "a"}, {"role": "assistant", ...}]``.

    The text must start with ``"\\n\\nHuman:"``. One space after each marker is dropped; contents are
    otherwise kept verbatim.
    """
    if not text.startswith(HUMAN_MARKER):
        raise ValueError(f"dialogue does not start with {HUMAN_MARKER!r}: {text[:40]!r}")
    marks = list(_TURN_RE.finditer(text))
    turns = []
    for k, m in enumerate(marks):
        end = marks[k + 1].start() if k + 1 < len(marks) else len(text)
        content = text[m.end() : end]
        if content.startswith(" "):
            content = content[1:]
        turns.append({"role": ROLES[m.group(1)], "content": content})
    return turns


def _response(text: str, start: int) -> tuple[str, str]:
    rest = text[start:]
    return ("", rest) if not rest.startswith(" ") else (" ", rest[1:])


def split_hh_record(chosen: str, rejected: str) -> HHRecord:
    """Split one HH-RLHF record into its shared prompt (as messages) and the two final responses.

    Raises ``ValueError`` when a string is not a ``"\\n\\nHuman: ..."`` dialogue, when the shared part holds
    no ``"\\n\\nAssistant:"`` marker, or when the shared prompt does not end with a user turn.
    """
    if not isinstance(chosen, str) or not isinstance(rejected, str):
        raise ValueError("HH-RLHF record: 'chosen' and 'rejected' must be strings")
    for name, text in (("chosen", chosen), ("rejected", rejected)):
        if not text.startswith(HUMAN_MARKER):
            raise ValueError(f"HH-RLHF record: {name!r} does not start with {HUMAN_MARKER!r}: {text[:40]!r}")
    prefix = chosen[: _common_prefix_len(chosen, rejected)]
    cut = prefix.rfind(ASSISTANT_MARKER)
    if cut < 0:
        raise ValueError(
            f"HH-RLHF record: the shared part of 'chosen' and 'rejected' has no {ASSISTANT_MARKER!r} marker"
        )
    prompt_text = chosen[:cut]
    start = cut + len(ASSISTANT_MARKER)
    chosen_sep, chosen_resp = _response(chosen, start)
    rejected_sep, rejected_resp = _response(rejected, start)
    prompt = parse_turns(prompt_text)
    if prompt[-1]["role"] != "user":
        raise ValueError("HH-RLHF record: the prompt does not end with a Human turn")
    return HHRecord(prompt, chosen_resp, rejected_resp, prompt_text, chosen_sep, rejected_sep)


def read_hh_jsonl(path: str | os.PathLike[str]) -> Iterator[HHRecord]:
    """Records of an HH-RLHF JSONL file (``.gz`` or plain). Errors name the file and line."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or "chosen" not in rec or "rejected" not in rec:
                    raise ValueError("expected an object with 'chosen' and 'rejected' keys")
                record = split_hh_record(rec["chosen"], rec["rejected"])
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from exc
            yield record
