"""Every tunable of the runtime, in one place, each with the reason for its value."""

from __future__ import annotations

#: Bulk read size for id minting: one ``os.urandom`` call yields 4096 UUIDs, so the syscall and
#: formatting cost is amortised to a fraction of a microsecond per id (``str(uuid4())`` is 3.2 us).
ID_POOL_BYTES = 65536

#: Default in-memory queue bound (events). Beyond it the newest event is dropped ("queue_full"):
#: a telemetry client must never grow without bound or block the application.
MAX_QUEUE_SIZE = 100_000

#: Default attempts per event (first try included) before dropping it as "retries_exhausted".
#: With the backoff below, 8 attempts span roughly one minute of outage in expectation.
MAX_ATTEMPTS = 8

#: Full-jitter exponential backoff: ``uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**(n-1)))``.
#: Full jitter spreads a fleet's retries after a shared outage (no synchronized thundering herd).
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0

#: ``Retry-After`` is honoured as a minimum wait, clamped so a hostile or buggy header cannot
#: park the pipeline for hours (same clamp as Segment).
RETRY_AFTER_MAX = 300.0

#: Per-request timeout (seconds) for the background transport and for blocking calls.
TIMEOUT = 10.0

#: How long the idle worker sleeps before re-checking its queue when nobody wakes it. Wake-ups
#: normally come from the idle->busy transition; this is only a safety net.
IDLE_WAIT = 1.0

#: ``flush(None)`` is bounded by this many seconds: a flush must never hang an application.
FLUSH_DEFAULT_TIMEOUT = 30.0

#: ``flush()`` is woken by the worker when its target is reached; this is only the re-check
#: interval covering races between concurrent flushes (a poll would steal the GIL from the worker).
FLUSH_POLL = 0.05

#: While a batch request is in flight the worker prepares the next items: one batch at least,
#: then chunks of AHEAD_CHUNK until the response is readable, at most AHEAD_BATCHES batches.
AHEAD_BATCHES = 4
AHEAD_CHUNK = 32

#: Batch requests the worker keeps in flight at once with the default transport, each on its
#: own kept-alive connection. With one, the server waits between batches while the worker reads
#: the answer, builds and writes the next request (~0.5 ms of each 2.6 ms batch against the
#: reference server); with two the next batch is already in its socket. Other transports, and
#: clients with a spool, send one request at a time.
MAX_IN_FLIGHT = 2

#: Statuses retried besides every 5xx (and network errors): a timeout and a rate limit. A spec
#: can widen the set (``x-ingest.retry.transient``); any other status fails the same way again.
TRANSIENT_STATUSES = frozenset({408, 429})

#: Bounded flush at interpreter exit (same order as Sentry's 2 s, PostHog's 1 s).
FLUSH_AT_EXIT = 2.0

#: Rate limit for the drop summary log line: never one line per drop (OTel uses 20 s too).
DROP_LOG_INTERVAL = 20.0

#: Drops counted on the caller's thread ("queue_full", "encode_error") are handed to ``on_drop``
#: on the worker thread; at most this many wait for their callback (they are always counted).
MAX_PENDING_DROP_CALLBACKS = 1024

#: The spool writer commits new records as one transaction as soon as it is woken; it waits at
#: most this long between commits while operations are pending (the documented crash window).
SPOOL_COMMIT_INTERVAL = 0.005

#: Default spool size bound (payload bytes). Oldest rows are evicted and counted ("spool_full").
SPOOL_MAX_BYTES = 50_000_000

#: Rows read from the spool per reload, and rows evicted per eviction step.
SPOOL_LOAD_CHUNK = 2048
SPOOL_EVICT_CHUNK = 64

#: Approximate per-row overhead (bytes) charged against ``max_bytes`` on top of the payload.
SPOOL_ROW_OVERHEAD = 64

#: Default byte bound of one batched request body (before gzip). Well under common server body
#: limits (nginx 1 MiB default, modelstat daemon 16 MiB); a 413 still splits the batch.
BATCH_MAX_BYTES = 1_000_000

#: gzip level for ``gzip=True`` request bodies: level 1 keeps most of the size win for a fraction
#: of the CPU (limits-delivery §2.4: level 6 costs ~2x the CPU of level 1 for ~7% fewer bytes).
GZIP_LEVEL = 1
