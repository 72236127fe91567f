"""Redaction floor for declared free-text fields, applied on the background thread before an
item reaches the spool, a file or the network.

Only the fields a ``Route`` declares (``Redact(path, max_chars)``) are scanned: the generator
knows which strings are free text, and scanning typed ids, enums or numbers would cost CPU and
produce false positives (shared/research/anchors-runtime.md §c3). A clean string costs one
literal prefilter search (well under 1 us for short strings); the per-family regexes run only
when the prefilter matches. Placeholders are ``[REDACTED:<kind>]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["KINDS", "Redact", "Redactor"]


@dataclass(frozen=True, slots=True)
class Redact:
    """A free-text field (dotted path, may walk lists: ``steps[].description``) and an optional
    maximum length in code points, applied after redaction (``ellipsis`` appended when cut)."""

    path: str
    max_chars: int | None = None
    ellipsis: str = "\u2026"


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(m: re.Match[str]) -> str | None:
    digits = re.sub(r"[ -]", "", m.group(0))
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456" or not _luhn(digits):
        return None
    return "[REDACTED:card]"


def _aws(m: re.Match[str]) -> str | None:
    return None if m.group(0).endswith("EXAMPLE") else "[REDACTED:aws_access_key]"


# (kind, pattern, replacement). Replacement None = the placeholder; a str = a template using
# groups (name kept); a callable = decides (None leaves the match untouched). ORDER MATTERS:
# specific keys first, then generic credentials, then emails, then paths.
_Repl = str | Callable[[re.Match[str]], "str | None"] | None
_FAMILIES: list[tuple[str, str, _Repl]] = [
    (
        "private_key",
        r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\Z)"
        r"|PuTTY-User-Key-File-\d[\s\S]*",
        None,
    ),
    ("anthropic_key", r"\bsk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_-]{20,}", None),
    (
        "openai_key",
        r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b",
        None,
    ),
    ("aws_access_key", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b", _aws),
    ("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36}\b|\bgithub_pat_\w{82}\b", None),
    ("gitlab_token", r"\bgl(?:pat|dt|rt|ptt|cbt|soat|ft)-[\w-]{20,}", None),
    (
        "slack_token",
        r"\bxox[abeoprs]-[0-9A-Za-z-]{10,}|\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"
        r"|hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,}",
        None,
    ),
    ("stripe_key", r"\b(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}\b", None),
    ("google_api_key", r"\bAIza[\w-]{35}(?![\w-])", None),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", None),
    ("bearer", r"(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{8,}", "Bearer [REDACTED:bearer]"),
    (
        "env_secret",
        r"(?i)\b([A-Z][A-Z0-9_]*_(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|API)[A-Z0-9_]*)"
        r"(\s*[=:]\s*)(?!\[REDACTED:)(\"[^\"]*\"|'[^']*'|[^\s\"']+)",
        r"\1\2[REDACTED:env_secret]",
    ),
    ("password", r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(@)", r"\1[REDACTED:password]\2"),
    (
        "email",
        r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
        None,
    ),
    ("card", r"(?<![\d.])(?:\d[ -]?){12,18}\d(?![\d.])", _card),
    (
        "home_path",
        r"(?<![\w./])(/home/|/Users/|(?i:[A-Z]):\\(?i:users)\\)(?!\[REDACTED)[^/\\\s]+",
        r"\1[REDACTED:home_path]",
    ),
]

#: Every built-in kind, in application order.
KINDS = tuple(kind for kind, _, _ in _FAMILIES)

#: Prefilter: every family's matches contain one of these characters or literals, so a string
#: that has none of them is clean. A single-charset regex search is the cheapest scan ``re``
#: offers (~0.2 us for 60 chars here); a regex alternation of all needles costs ~10x more.
_TRIGGER_CHARS = re.compile(r"[-_@:/\\0-9]")
_TRIGGER_AWS_GOOGLE = re.compile(r"A(?:KIA|SIA|BIA|CCA|3T|Iza)")


def might_contain_secret(s: str) -> bool:
    return (
        _TRIGGER_CHARS.search(s) is not None
        or "eyJ" in s
        or "earer" in s
        or "EARER" in s
        or _TRIGGER_AWS_GOOGLE.search(s) is not None
    )


_CARD_GATE = re.compile(r"\d{4}[ -]?\d{4}")

#: Per-family literal gates: a family's regex runs only if one of its needles is present
#: (anchors-runtime §c3: per-detector gating is ~10x cheaper than running every regex).
_GATES: dict[str, tuple[str, ...]] = {
    "private_key": ("PRIVATE KEY", "PuTTY"),
    "anthropic_key": ("sk-ant-",),
    "openai_key": ("sk-",),
    "github_token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab_token": ("gl",),
    "slack_token": ("xox", "xapp-", "hooks.slack"),
    "stripe_key": ("_test_", "_live_", "_prod_"),
    "google_api_key": ("AIza",),
    "jwt": ("eyJ",),
    "bearer": ("earer", "EARER"),
    "password": ("://",),
    "email": ("@",),
    "home_path": ("/home/", "/Users/", "\\"),
}


def _gate(kind: str, s: str) -> bool:
    needles = _GATES.get(kind)
    if needles is not None:
        return any(n in s for n in needles)
    if kind == "aws_access_key":
        return _TRIGGER_AWS_GOOGLE.search(s) is not None
    if kind == "env_secret":
        return "_" in s and ("=" in s or ":" in s)
    if kind == "card":
        return _CARD_GATE.search(s) is not None
    return True


class Redactor:
    """Applies the floor (plus user rules) and counts matches per kind.

    ``floor=False`` is an explicit opt-out (modelstat's ``RedactionPolicy.NONE``): only the
    user's rules and the declared ``max_chars`` apply."""

    def __init__(
        self, rules: Sequence[tuple[str, str | re.Pattern[str]]] = (), *, floor: bool = True
    ) -> None:
        self.floor = floor
        self._families: list[tuple[str, re.Pattern[str], _Repl]] = [
            (kind, re.compile(pattern), repl) for kind, pattern, repl in _FAMILIES
        ]
        self._rules = [
            (name, rx if isinstance(rx, re.Pattern) else re.compile(rx), None) for name, rx in rules
        ]
        #: kind -> matches replaced so far (read under the caller's lock by ``stats()``).
        self.counts: dict[str, int] = {}

    def redact(self, s: str) -> str:
        if self.floor and might_contain_secret(s):
            for kind, rx, repl in self._families:
                if _gate(kind, s):
                    s = self._apply(s, kind, rx, repl)
        for kind, rx, repl in self._rules:
            s = self._apply(s, kind, rx, repl)
        return s

    def _apply(self, s: str, kind: str, rx: re.Pattern[str], repl: _Repl) -> str:
        n = 0

        def sub(m: re.Match[str]) -> str:
            nonlocal n
            if repl is None:
                out: str | None = f"[REDACTED:{kind}]"
            elif isinstance(repl, str):
                out = m.expand(repl)
            else:
                out = repl(m)
            if out is None:
                return m.group(0)
            n += 1
            return out

        s = rx.sub(sub, s)
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n
        return s

    def field(self, value: str, spec: Redact) -> str:
        value = self.redact(value)
        if spec.max_chars is not None and len(value) > spec.max_chars:
            value = value[: spec.max_chars] + spec.ellipsis
        return value
