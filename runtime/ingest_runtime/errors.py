"""Exceptions raised by blocking calls. Fire-and-forget calls never raise after validation."""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthError",
    "IngestError",
    "RateLimited",
    "TransportError",
    "TransportFailure",
    "ValidationRejected",
]


class IngestError(Exception):
    """Base of every error a blocking call raises; ``status`` is None for network failures."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AuthError(IngestError):
    """The server answered 401: the token is missing, invalid or expired."""


class TransportError(IngestError):
    """Network failure or 5xx: the request may not have reached the server."""


class RateLimited(TransportError):
    """The server answered 429; retrying later is expected to succeed."""


class ValidationRejected(IngestError):
    """The server rejected the body (400/422): retrying the same body cannot succeed."""


class ApiError(IngestError):
    """Any other status >= 400, or a response body that does not match the declared type."""


class TransportFailure(OSError):
    """Raised by a ``Transport`` when no HTTP response was obtained (always retryable)."""
