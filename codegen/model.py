"""The service model: everything the templates see, and nothing else.

Every decision about a spec (names, which fields the caller passes and which the runtime fills,
delivery, category, auth, idempotency) is made while building this model. Templates only loop
and print; every string here that came from the spec is already sanitised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from codegen.handwritten import Handwritten

Delivery = Literal["queued", "blocking"]


@dataclass(frozen=True)
class Param:
    """One keyword argument of a generated method."""

    name: str  # the Python parameter name
    target: str  # model attribute (body), or wire name (path/query/header)
    annotation: str  # Python type expression, valid in client.py
    required: bool
    default: str  # Python source of the default; "" when required
    location: Literal["body", "time", "path", "query", "header", "cookie"]
    doc: str = ""
    #: An optional body argument of a blocking call whose schema admits null: its default is
    #: UNSET (left out), so an explicit None is sent as `null`.
    null_allowed: bool = False


@dataclass(frozen=True)
class Autofill:
    """A body field the runtime stamps; never part of a signature."""

    target: str  # model attribute
    expression: str  # Python expression producing the value, e.g. `new_uuid4()`


@dataclass(frozen=True)
class Operation:
    key: str  # dotted method path: `events.agent.create`
    name: str  # the method name: `create`
    route_const: str  # module constant holding the runtime Route
    http_method: str
    path: str
    path_template: str  # f-string body for paths with parameters ("" when static)
    operation_id: str
    summary: str
    description: str
    delivery: Delivery
    static: bool
    category: str | None
    mutable: bool  # some mode mutes this operation's category
    auth: bool
    body_model: str | None  # model class the body is validated with
    body_flattened: bool  # the body's fields are the method's keyword arguments
    params: tuple[Param, ...]
    autofills: tuple[Autofill, ...]
    idempotency_field: str | None
    response_model: str | None  # annotation of the parsed response, or None
    returns_field: str | None  # return this attribute of the response instead
    return_annotation: str
    example_call: str  # one line of Python for the README
    # How the request body travels (codegen/schemas.py media_kind): "json", "form",
    # "multipart", "text", "bytes"; `raw` calls go through the generated `_http` module
    # because they need headers, cookies or a non-JSON body the runtime cannot send yet.
    body_kind: str = "json"
    content_type: str = "application/json"
    raw: bool = False
    # OpenAPI 3.2 `itemSchema` of a streamed response (text/event-stream, application/jsonl):
    # the model of one item, and the media type. Kept for the runtime; methods still return
    # `return_annotation` until the runtime can iterate a stream.
    stream_item_model: str | None = None
    stream_media_type: str | None = None
    # Extra `Route(...)` keyword arguments (batch, derive, redact, sign, omit_none) as Python
    # source built from the spec's recipes, every spec string through repr().
    route_extras: tuple[str, ...] = ()

    @property
    def path_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.location == "path")

    @property
    def query_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.location == "query")

    @property
    def body_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.location == "body")

    @property
    def required_body_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.body_params if p.required)

    @property
    def optional_body_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.body_params if not p.required)

    @property
    def given_body_params(self) -> tuple[Param, ...]:
        """Optional body arguments sent when not None."""
        return tuple(p for p in self.optional_body_params if not p.null_allowed)

    @property
    def nullable_body_params(self) -> tuple[Param, ...]:
        """Optional body arguments sent when passed, None included (as `null`)."""
        return tuple(p for p in self.optional_body_params if p.null_allowed)

    @property
    def omits_unset_body_fields(self) -> bool:
        """A request/response call whose optional body arguments are sent only when given:
        an optional argument left at None never reaches the wire as `null`."""
        return (
            self.delivery == "blocking" and self.body_flattened and bool(self.optional_body_params)
        )

    @property
    def documented_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.doc)


@dataclass
class Namespace:
    """A group of methods reached as an attribute: `client.events.agent`."""

    attr: str
    class_name: str
    dotted: str  # how a user reaches it: `events.agent`
    operations: list[Operation] = field(default_factory=list)
    children: list[Namespace] = field(default_factory=list)


@dataclass(frozen=True)
class Mode:
    name: str
    muted: tuple[str, ...]


@dataclass(frozen=True)
class Setting:
    """A client keyword argument that may come from an environment variable."""

    name: str
    annotation: str  # `str`, `int`, `float` or `bool`
    env: str | None
    default: str  # Python source; "None" when there is none
    required: bool
    doc: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """`info.x-ingest.retry`: the generated client's defaults for retrying a failed request."""

    max_attempts: int = 8
    backoff: tuple[float, ...] = ()  # seconds after failed attempt 1, 2, ...; the last repeats
    jitter: float = 0.0  # up to this fraction added to each scheduled wait
    transient: tuple[int, ...] = (408, 429)  # retried, besides every 5xx
    hold: tuple[int, ...] = ()  # refusals kept in the fallback directory instead of dropped

    @property
    def backoff_literal(self) -> str:
        """The schedule as a Python tuple literal (floats only: `repr` is the whole story)."""
        return repr(tuple(self.backoff))

    @property
    def transient_literal(self) -> str:
        return repr(tuple(self.transient))

    @property
    def hold_literal(self) -> str:
        return repr(tuple(self.hold))


@dataclass
class ServiceVersion:
    """One major version of a service, rendered as `<package>.v<major>`."""

    package: str
    major: int
    version: str  # info.version, semantic
    title: str
    description: str
    client_class: str
    error_alias: str  # `AnalyticsClient` -> `AnalyticsError`, an alias of IngestError
    spec_file: str
    spec_sha256: str
    default_base_url: str
    modes: tuple[Mode, ...]
    default_mode: str
    root: Namespace
    operations: list[Operation]  # every operation, in a stable order
    models_source: str  # the pydantic models module, as generated
    model_names: list[str]  # every class in the models module, for re-export
    client_imports: list[str]  # import lines client.py needs for parameter annotations
    has_queued: bool
    has_blocking: bool
    has_instance_methods: bool  # anything besides static methods: the README makes a client
    namespace_list: list[Namespace]  # every namespace below the client, parents first
    runtime_imports: list[str]  # names client.py imports from ingest_runtime
    runtime_exports: list[str]  # runtime names the version package re-exports
    export_names: list[str]  # the version package's __all__
    has_raw: bool = False  # some operation needs the generated `_http` module
    constants: tuple[Setting, ...] = ()  # values recipes and envelopes read by name
    signs: bool = False  # some route signs: the client takes `signing_key`
    env: dict[str, str] = field(default_factory=dict)  # token/base_url/signing_key -> env var
    has_recipes: bool = False  # some route derives, redacts or signs: hooks and local files
    has_batches: bool = False  # some route is batched: batch size, interval and gzip knobs
    requirements: tuple[str, ...] = ()  # extra distribution dependencies (e.g. blake3)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class ServicePackage:
    """All majors of one service folder: one distribution, one import package."""

    package: str
    distribution: str
    folder: str
    versions: list[ServiceVersion]  # ascending by major
    version: str = "0.0.0"  # PEP 440 version of the distribution (build.distribution_version)
    handwritten: list[Handwritten] = field(default_factory=list)  # specs/<svc>/python/*.py

    @property
    def all_exports(self) -> list[str]:
        """The bare package's `__all__`: the newest major's names and the extensions'."""
        mine = {name for module in self.handwritten for name in module.exports}
        return sorted(mine | set(self.latest.export_names))

    @property
    def generated_exports(self) -> list[str]:
        """The newest major's names the bare package takes from it (not those an extension
        module replaces, see codegen.handwritten)."""
        replaced = {name for module in self.handwritten for name in module.replaces}
        return [name for name in self.latest.export_names if name not in replaced]

    @property
    def latest(self) -> ServiceVersion:
        return self.versions[-1]
