"""Check an operation's effective `security` against the request's credentials.

The server is a test double, not an identity provider: by default any non-empty credential
passes. Tests can restrict the accepted tokens; tokens the server minted itself always pass.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Credential:
    """Where one security scheme expects its credential."""

    where: str  # "bearer" | "basic" | "header" | "query" | "cookie"
    name: str = ""


class TokenPolicy:
    """Which credentials are accepted; shared by every operation."""

    def __init__(self) -> None:
        self.accepted: set[str] | None = None
        self.minted: set[str] = set()

    def accepts(self, token: str) -> bool:
        if not token:
            return False
        return self.accepted is None or token in self.accepted or token in self.minted

    def mint(self) -> str:
        token = f"tok_{secrets.token_hex(16)}"
        self.minted.add(token)
        return token


def _credential(scheme: Any) -> Credential | None:
    """None for schemes we cannot check (mutualTLS, unknown): they count as satisfied."""
    if not isinstance(scheme, dict):
        return None
    kind = scheme.get("type")
    if kind == "http":
        http = str(scheme.get("scheme", "")).lower()
        return Credential("basic") if http == "basic" else Credential("bearer")
    if kind in ("oauth2", "openIdConnect"):
        return Credential("bearer")
    if kind == "apiKey":
        where = str(scheme.get("in", "header"))
        name = str(scheme.get("name", ""))
        return Credential(where, name.lower() if where == "header" else name)
    return None


class AuthRule:
    """One operation's security: alternatives (OR) of scheme sets (AND)."""

    def __init__(self, security: list[Any], schemes: dict[str, Any]) -> None:
        self.alternatives: list[list[Credential]] = []
        for requirement in security:
            if not isinstance(requirement, dict):
                continue
            creds = [_credential(schemes.get(name)) for name in requirement]
            self.alternatives.append([c for c in creds if c is not None])
        self.required = bool(self.alternatives) and all(self.alternatives)

    def check(self, headers: dict[str, str], query: bytes, policy: TokenPolicy) -> tuple[bool, str]:
        """(ok, reason); the reason explains a rejection."""
        if not self.required:
            return True, ""
        reason = "Not authenticated"
        for alternative in self.alternatives:
            values = [_extract(c, headers, query) for c in alternative]
            if not all(values):
                continue
            if all(policy.accepts(v) for v in values):
                return True, ""
            reason = "Invalid authentication credentials"
        return False, reason


def _extract(cred: Credential, headers: dict[str, str], query: bytes) -> str:
    if cred.where in ("bearer", "basic"):
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == cred.where else ""
    if cred.where == "header":
        return headers.get(cred.name, "").strip()
    if cred.where == "query":
        values = parse_qs(query.decode("latin-1")).get(cred.name)
        return values[0] if values else ""
    if cred.where == "cookie":
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(headers.get("cookie", ""))
        morsel = cookie.get(cred.name)
        return morsel.value if morsel else ""
    return ""


def scope_of(headers: dict[str, str]) -> str:
    """The dedupe scope: the Authorization credential, or "" for anonymous requests."""
    _, _, value = headers.get("authorization", "").partition(" ")
    return value.strip()
