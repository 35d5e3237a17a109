"""Readers for public preference datasets (pure Python: no Django, no torch)."""

from .hh_rlhf import HHRecord, read_hh_jsonl, split_hh_record

__all__ = ["HHRecord", "read_hh_jsonl", "split_hh_record"]
