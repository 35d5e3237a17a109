from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rewardtrain.formats.hh_rlhf import HHRecord, read_hh_jsonl, split_hh_record

REPO = Path(__file__).resolve().parents[3]
HH_TEST = REPO / "../shared/datasets/hh-rlhf/harmless-base/test.jsonl.gz"
needs_hh = pytest.mark.skipif(not HH_TEST.is_file(), reason=f"HH-RLHF test split not found at {HH_TEST}")
MARKERS = ("\n\nHuman:", "\n\nAssistant:")


def test_split_simple_dialogue() -> None:
    ctx = "\n\nHuman: hi there\n\nAssistant: hello!\n\nHuman: what is 2+2?"
    rec = split_hh_record(ctx + "\n\nAssistant: 4", ctx + "\n\nAssistant: five")
    assert rec.prompt == [
        {"role": "user", "content": "hi there"},
        {"role": "assistant", "content": "hello!"},
        {"role": "user", "content": "what is 2+2?"},
    ]
    assert (rec.chosen, rec.rejected) == ("4", "five")
    assert rec.reassemble() == (ctx + "\n\nAssistant: 4", ctx + "\n\nAssistant: five")


def test_shared_start_of_responses_stays_in_responses() -> None:
    ctx = "\n\nHuman: q"
    rec = split_hh_record(ctx + "\n\nAssistant: Sure, yes", ctx + "\n\nAssistant: Sure, no")
    assert rec.prompt == [{"role": "user", "content": "q"}]
    assert (rec.chosen, rec.rejected) == ("Sure, yes", "Sure, no")


def test_response_containing_turn_markers() -> None:
    ctx = "\n\nHuman: q"
    chosen = ctx + "\n\nAssistant: a\n\nHuman: fake turn\n\nAssistant: more"
    rec = split_hh_record(chosen, ctx + "\n\nAssistant: b")
    assert rec.prompt == [{"role": "user", "content": "q"}]
    assert rec.chosen == "a\n\nHuman: fake turn\n\nAssistant: more"
    assert rec.rejected == "b"


def test_empty_response_kept() -> None:
    ctx = "\n\nHuman: q"
    rec = split_hh_record(ctx + "\n\nAssistant: ", ctx + "\n\nAssistant: b")
    assert (rec.chosen, rec.rejected) == ("", "b")
    rec = split_hh_record(ctx + "\n\nAssistant:", ctx + "\n\nAssistant: b")
    assert rec.chosen == "" and rec.reassemble()[0] == ctx + "\n\nAssistant:"


@pytest.mark.parametrize(
    ("chosen", "rejected", "match"),
    [
        ("Human: q\n\nAssistant: a", "\n\nHuman: q\n\nAssistant: b", "does not start"),
        ("\n\nHuman: q a", "\n\nHuman: q b", "no '\\\\n\\\\nAssistant:' marker"),
        ("\n\nHuman: q\n\nAssistant: a", "\n\nHuman: r\n\nAssistant: a", "no '\\\\n\\\\nAssistant:' marker"),
        (
            "\n\nHuman: q\n\nAssistant: x\n\nAssistant: a",
            "\n\nHuman: q\n\nAssistant: x\n\nAssistant: b",
            "Human",
        ),
        (None, "\n\nHuman: q\n\nAssistant: b", "must be strings"),
    ],
)
def test_malformed_records_raise(chosen: str, rejected: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        split_hh_record(chosen, rejected)


def test_read_plain_and_gz(tmp_path: Path) -> None:
    lines = [
        {"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b"},
        {"chosen": "\n\nHuman: r\n\nAssistant: c", "rejected": "\n\nHuman: r\n\nAssistant: d"},
    ]
    text = "".join(json.dumps(x) + "\n" for x in lines) + "\n"
    (tmp_path / "a.jsonl").write_text(text)
    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(text)
    for name in ("a.jsonl", "a.jsonl.gz"):
        recs = list(read_hh_jsonl(tmp_path / name))
        assert [(r.chosen, r.rejected) for r in recs] == [("a", "b"), ("c", "d")]
    (tmp_path / "bad.jsonl").write_text(text + json.dumps({"chosen": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:4: .*'chosen' and 'rejected'"):
        list(read_hh_jsonl(tmp_path / "bad.jsonl"))


@needs_hh
def test_whole_harmless_base_test_split() -> None:
    with gzip.open(HH_TEST, "rt", encoding="utf-8") as fh:
        raw = [json.loads(line) for line in fh]
    recs = list(read_hh_jsonl(HH_TEST))
    assert len(recs) == len(raw) == 2312
    for rec, orig in zip(recs, raw, strict=True):
        assert isinstance(rec, HHRecord)
        assert rec.reassemble() == (orig["chosen"], orig["rejected"])
        assert rec.prompt[0]["role"] == "user" and rec.prompt[-1]["role"] == "user"
        assert all(m["role"] in ("user", "assistant") for m in rec.prompt)
        assert rec.chosen != rec.rejected
    # responses that themselves hold turn-marker text: the naive "last Assistant:" cut gets these wrong
    odd = [r for r in recs if any(m in r.chosen or m in r.rejected for m in MARKERS)]
    assert len(odd) == 5
    for rec in odd:  # the prompt is the shared context, never a cut inside a response
        assert rec.prompt_text + "\n\nAssistant:" not in (rec.chosen, rec.rejected)
        assert rec.reassemble()[0].startswith(rec.prompt_text + "\n\nAssistant:")
    assert sum(r.chosen == "" for r in recs) == 4
    assert sum(r.rejected == "" for r in recs) == 0
    turns = sorted(len(r.prompt) + 1 for r in recs)
    assert (turns[0], turns[len(turns) // 2], turns[-1]) == (2, 4, 36)
