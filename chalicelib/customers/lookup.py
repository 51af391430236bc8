"""Exact-search keys of a customer: the phone in one canonical form and the nickname as written (pure)."""

from __future__ import annotations

import re
import unicodedata

# Separators people type or paste inside a number: spaces (also full-width and no-break), dashes, dots, brackets.
_SEPARATORS = re.compile(r"[\s\u3000\-\u2010-\u2015\u2212.()（）]")
_DIGITS = re.compile(r"^\+?[0-9]{6,15}$")
_CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def normalize_phone(text: str) -> str:
    """One form per number, so `+86 138-1234-5678`, `0086 13812345678`, `86-13812345678` and `13812345678` are one
    customer: separators dropped, `00` read as `+`, a Chinese mobile (11 digits from 13x to 19x) given without its
    country code gets +86. Other numbers keep their digits (and their + when given). ValueError when what is left
    is not 6-15 digits."""
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _DIGITS.match(compact):
        raise ValueError("must be a phone number: 6-15 digits, optionally +country code, spaces or dashes")
    if compact.startswith("+"):
        return compact
    if _CN_MOBILE.match(compact):
        return "+86" + compact
    if compact.startswith("86") and _CN_MOBILE.match(compact[2:]):
        return "+" + compact
    return compact


def nickname_key(text: str) -> str:
    """The nickname as a search matches it: exact, once Unicode forms are unified (NFC) and the ends trimmed."""
    return unicodedata.normalize("NFC", text).strip()
