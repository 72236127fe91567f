"""ingest_runtime: the hand-written delivery runtime behind generated ingest clients."""

import logging as _logging

from ._version import __version__
from .batching import AfterSend, Batch, BeforeSend
from .blocking import UNSET, Unset, call_blocking, given, present
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
from .recipes import (
    Body,
    Const,
    Derive,
    Field,
    Hash,
    ItemValues,
    Join,
    Json,
    Lit,
    Millis,
    NewId,
    Seq,
    Sign,
    Timestamp,
)
from .redaction import Redact, Redactor
from .routes import Route
from .settings import setting
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
    "UNSET",
    "AfterSend",
    "ApiError",
    "AuthError",
    "Batch",
    "BeforeSend",
    "Body",
    "Const",
    "Derive",
    "Drop",
    "Field",
    "Hash",
    "HttpClientTransport",
    "HttpxTransport",
    "IngestClient",
    "IngestError",
    "ItemValues",
    "Join",
    "Json",
    "Lit",
    "MemoryTransport",
    "Millis",
    "NewId",
    "RateLimited",
    "Record",
    "Redact",
    "Redactor",
    "Response",
    "Route",
    "SentRequest",
    "Seq",
    "Sign",
    "Spool",
    "SqliteSpool",
    "Stats",
    "Timestamp",
    "Transport",
    "TransportError",
    "TransportFailure",
    "Unset",
    "ValidationRejected",
    "__version__",
    "call_blocking",
    "expand_path",
    "given",
    "new_uuid4",
    "present",
    "setting",
    "unix_seconds",
]
