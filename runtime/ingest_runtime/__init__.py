"""ingest_runtime: the hand-written delivery runtime behind generated ingest clients."""

import logging as _logging

from ._version import __version__
from .blocking import call_blocking
from .client import IngestClient
from .errors import (
    ApiError,
    AuthError,
    IngestError,
    RateLimited,
    TransportError,
    TransportFailure,
    ValidationRejected,
)
from .ids import new_uuid4, unix_seconds
from .paths import expand_path
from .routes import Route
from .spool import Record, Spool, SqliteSpool
from .stats import Drop, Stats
from .transport import (
    HttpClientTransport,
    HttpxTransport,
    MemoryTransport,
    Response,
    SentRequest,
    Transport,
)

# Library convention: silent unless the application configures logging.
_logging.getLogger("ingest_runtime").addHandler(_logging.NullHandler())

__all__ = [
    "ApiError",
    "AuthError",
    "Drop",
    "HttpClientTransport",
    "HttpxTransport",
    "IngestClient",
    "IngestError",
    "MemoryTransport",
    "RateLimited",
    "Record",
    "Response",
    "Route",
    "SentRequest",
    "Spool",
    "SqliteSpool",
    "Stats",
    "Transport",
    "TransportError",
    "TransportFailure",
    "ValidationRejected",
    "__version__",
    "call_blocking",
    "expand_path",
    "new_uuid4",
    "unix_seconds",
]
