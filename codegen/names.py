"""The one place spec strings become Python names or Python text.

Nothing from a spec reaches generated code except through these functions: identifiers are
sanitised here, literals go through `repr`, and free text through `docstring`.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"self", "cls"}
_BUILTINS = frozenset(dir(builtins))
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+|[0-9]+")


def words(text: str) -> list[str]:
    """Split any spelling (camelCase, kebab-case, dotted, spaced) into lower-case words."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return [w.lower() for w in _WORD.findall(ascii_text)]


def snake(text: str) -> str:
    """`createInstallToken` -> `create_install_token`, always a valid, non-reserved identifier."""
    name = "_".join(words(text)) or "field"
    if name[0].isdigit():
        name = "n" + name
    if name in _RESERVED:
        name += "_"
    return name


def pascal(text: str) -> str:
    """`app_lifecycle` -> `AppLifecycle`, always a valid identifier."""
    name = "".join(w[:1].upper() + w[1:] for w in words(text)) or "Model"
    if name[0].isdigit():
        name = "N" + name
    return name


def constant(text: str) -> str:
    """`events.agent.create` -> `EVENTS_AGENT_CREATE`."""
    return snake(text).rstrip("_").upper() or "ROUTE"


def is_identifier(text: str) -> bool:
    """A name usable as-is for a keyword argument (not reserved, not a dunder)."""
    return text.isidentifier() and text not in _RESERVED and not text.startswith("__")


def shadows_builtin(text: str) -> bool:
    return text in _BUILTINS


def unique(name: str, taken: set[str], sep: str = "_") -> str:
    """Return `name`, or `name_2`, `name_3`... whichever is free, and mark it taken."""
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}{sep}{n}"
        n += 1
    taken.add(candidate)
    return candidate


def docstring(text: str | None) -> str:
    """Spec prose made safe inside a triple-quoted docstring.

    Backslashes and quotes are escaped so the text can never close the docstring or form an
    escape sequence; control characters other than newlines are dropped.
    """
    if not text:
        return ""
    if text.replace("\n", "").replace("\t", "").isprintable():
        cleaned = text  # the common case, without a look at each character
    else:
        cleaned = "".join(ch for ch in text if ch == "\n" or ch == "\t" or ch.isprintable())
    cleaned = cleaned.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [line.rstrip() for line in cleaned.strip().splitlines()]
    text_out = "\n".join(lines)
    if text_out.endswith('"'):
        text_out += " "
    return text_out


def comment(text: str) -> str:
    """A single line safe to put after `#`."""
    return " ".join(text.split())
