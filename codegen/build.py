"""Build the service model from a validated document and its generated models.

This is where every decision about a spec is made. The rules, in order of precedence:
method names come from `x-ingest.method`, else the operationId, else method + path; namespaces
from the dotted method name, else the first tag. Delivery is `x-ingest.delivery`, else blocking.
Body fields marked `x-ingest.autofill` are stamped by the runtime and left out of signatures.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from typing import Any

from codegen import extensions, names
from codegen.batching import BatchedItem, find_signature
from codegen.errors import Problem, SpecError, pointer
from codegen.model import (
    Autofill,
    Mode,
    Namespace,
    Operation,
    Param,
    RetryPolicy,
    ServiceVersion,
    Setting,
)
from codegen.pymodels import ModelField, ModelsModule
from codegen.recipes import RecipeWriter
from codegen.schemas import PreparedSchemas, body_media, deref, directional, own_properties
from codegen.validate import HTTP_METHODS

AUTOFILL_EXPRESSIONS = {"unix_seconds": "unix_seconds()", "uuid4": "new_uuid4()"}
DERIVED = "derived"  # a body field the worker computes: neither an argument nor an autofill
STAMPED = "stamped"  # a time the worker formats: an optional argument, else the call time
CLIENT_ATTRIBUTES = frozenset(
    {"flush", "close", "stats", "transport", "register_hook", "mode", "base_url", "token"}
)
_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
MODELS_ALIAS = "_models"
RUNTIME_EXPORTS = (
    "ApiError",
    "AuthError",
    "Drop",
    "IngestError",
    "RateLimited",
    "Spool",
    "SqliteSpool",
    "Stats",
    "TransportError",
    "ValidationRejected",
)


def operations_of(data: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) in a stable order: by path, then HTTP method order."""
    found = []
    for path in sorted(data.get("paths") or {}):
        item = data["paths"][path]
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                merged = dict(op)
                shared = item.get("parameters") or []
                if shared:
                    merged["parameters"] = [*shared, *(op.get("parameters") or [])]
                found.append((method, path, merged))
    return found


def package_and_title(data: dict[str, Any], folder: str) -> tuple[str, str]:
    """The package a spec generates (`x-ingest.package`, else its folder's name) and its title
    (`info.title`, else the package)."""
    info = data.get("info") or {}
    package = str((info.get(extensions.KEY) or {}).get("package") or names.snake(folder))
    return package, str(info.get("title") or package)


class _Builder:
    def __init__(
        self,
        data: dict[str, Any],
        file: str,
        sha256: str,
        folder: str,
        prepared: PreparedSchemas,
        models: ModelsModule,
        batches: dict[str, BatchedItem] | None = None,
    ) -> None:
        self.batches = batches or {}
        self.recipes = RecipeWriter()
        self.data = data
        self.file = file
        self.sha256 = sha256
        self.folder = folder
        self.prepared = prepared
        self.models = models
        self.info = data.get("info") or {}
        self.ext: dict[str, Any] = self.info.get(extensions.KEY) or {}
        self.problems: list[Problem] = []
        self.used_imports: set[str] = set()

    # -- service level -------------------------------------------------------------------------

    def build(self) -> ServiceVersion:
        package, title = package_and_title(self.data, self.folder)
        version = str(self.info.get("version", "0.0.0"))
        major_match = re.match(r"\d+", version)
        major = int(major_match.group()) if major_match else 0
        client_class = self.ext.get("client") or names.pascal(title) + "Client"
        error_alias = (client_class[: -len("Client")] or "Ingest") + "Error"
        if not client_class.endswith("Client"):
            error_alias = client_class + "Error"
        modes_ext = self.ext.get("modes") or {"full": []}
        modes = tuple(Mode(n, tuple(sorted(m))) for n, m in sorted(modes_ext.items()))
        default_mode = self.ext.get("default_mode") or (
            "full" if "full" in modes_ext else modes[0].name
        )
        muted = {c for m in modes for c in m.muted}
        security = self.data.get("security") or []
        servers = self.data.get("servers") or []
        default_base_url = (
            str(servers[0].get("url", "")) if servers and isinstance(servers[0], dict) else ""
        )

        operations = [
            self.operation(method, path, op, security, muted)
            for method, path, op in operations_of(self.data)
        ]
        self.check_collisions(operations)
        retry = self.retry_policy(has_files=any(o.route_extras for o in operations))
        if self.problems:
            raise SpecError(self.problems)
        root = self.namespaces(operations)
        namespace_list = _flatten(root)
        runtime_imports = {"Drop", "IngestClient", "Route", "Spool", "Transport"}
        for op in operations:
            runtime_imports.update(
                "unix_seconds" if "unix_seconds()" in a.expression else a.expression.split("(")[0]
                for a in op.autofills
            )
            if op.static:
                runtime_imports.add("call_blocking")
            if op.path_template:
                runtime_imports.add("expand_path")
            if op.given_body_params and op.omits_unset_body_fields:
                runtime_imports.add("given")
            if op.nullable_body_params:
                runtime_imports.update({"UNSET", "Unset", "present"})
        runtime_imports.update(self.recipes.names)
        constants = self.constants()
        env = dict(sorted((self.ext.get("env") or {}).items()))
        signs = "Sign" in self.recipes.names
        if constants or env:
            runtime_imports.add("setting")
        if any(o.route_extras for o in operations):
            runtime_imports.update({"AfterSend", "BeforeSend"})
        model_names = sorted(self.models.classes)
        reserved = {client_class, error_alias, *model_names}
        runtime_exports = [n for n in RUNTIME_EXPORTS if n not in reserved]
        export_names = sorted({client_class, error_alias, *runtime_exports, *model_names})
        return ServiceVersion(
            package=package,
            major=major,
            version=version,
            title=names.docstring(title),
            description=names.docstring(self.info.get("description") or self.info.get("summary")),
            client_class=client_class,
            error_alias=error_alias,
            spec_file=self.file,
            spec_sha256=self.sha256,
            default_base_url=default_base_url,
            modes=modes,
            default_mode=default_mode,
            root=root,
            operations=operations,
            models_source=self.models.source,
            model_names=model_names,
            client_imports=sorted({self.models.imports[n] for n in self.used_imports}),
            has_queued=any(o.delivery == "queued" for o in operations),
            has_blocking=any(o.delivery == "blocking" for o in operations),
            has_instance_methods=any(not o.static for o in operations),
            has_raw=any(o.raw for o in operations),
            constants=constants,
            signs=signs,
            has_recipes=any(o.route_extras for o in operations),
            has_batches="Batch" in self.recipes.names,
            requirements=tuple(sorted(self.recipes.requirements)),
            env=env,
            namespace_list=namespace_list,
            runtime_imports=sorted(runtime_imports),
            runtime_exports=runtime_exports,
            export_names=export_names,
            retry=retry,
        )

    # -- one operation --------------------------------------------------------------------------

    def operation(
        self, method: str, path: str, op: dict[str, Any], security: list[Any], muted: set[str]
    ) -> Operation:
        where = ("paths", path, method)
        ext: dict[str, Any] = op.get(extensions.KEY) or {}
        key = ".".join(names.snake(part) for part in str(ext.get("method", "")).split(".") if part)
        key = key or self.default_key(method, path, op)
        name = key.rsplit(".", 1)[-1]
        delivery = ext.get("delivery", "blocking")
        static = bool(ext.get("static", False))
        if static and "." in key:
            self.problem(where, f"static method {key!r} must not be in a namespace")
        category = ext.get("category")
        op_security = op.get("security", security)
        auth = bool(op_security) and not all(req == {} for req in op_security)
        http_key = f"{method.upper()} {path}"

        params: list[Param] = []
        taken: set[str] = {"self", "cls", "client", "body"}
        path_names: dict[str, str] = {}
        seen_params: set[tuple[str, str]] = set()
        # Operation-level parameters override path-level ones with the same name and location.
        raw_params = [deref(self.data, p) for p in op.get("parameters") or []]
        raw_params = [p for p in raw_params if isinstance(p, dict)]
        for index, param in reversed(list(enumerate(raw_params))):
            ident = (str(param.get("name", "")), str(param.get("in")))
            if ident in seen_params:
                raw_params.pop(index)
            seen_params.add(ident)
        for param in raw_params:
            location = param.get("in")
            wire = str(param.get("name", ""))
            if location not in ("path", "query", "header", "cookie"):
                self.problem(where, f"{location} parameter {wire!r} is not a known location")
                continue
            if location != "path" and delivery == "queued":
                self.problem(
                    where, f"{location} parameter {wire!r} on a queued operation is not supported"
                )
                continue
            py = names.unique(names.snake(wire), taken)
            if location == "path":
                path_names[wire] = py
            required = bool(param.get("required")) or location == "path"
            ann = self.param_annotation(param)
            params.append(
                Param(
                    name=py,
                    target=wire,
                    annotation=ann if required else f"{ann} | None",
                    required=required,
                    default="" if required else "None",
                    location=location,
                    doc=names.docstring(param.get("description")),
                )
            )

        # The body's schema (by its name in the prepared document) and the class of it.
        body_schema = self.prepared.request_class.get(http_key)
        batched = self.batches.get(http_key)
        if batched is not None:
            body_schema = batched.input_class  # callers submit items; the worker builds envelopes
        body_model = self.models.class_of(body_schema) if body_schema is not None else None
        body_kind, content_type = self.prepared.request_media.get(
            http_key, ("json", "application/json")
        )
        body_flattened = False
        autofills: list[Autofill] = []
        idempotency_field: str | None = None
        if body_kind != "json" and delivery == "queued":
            self.problem(
                where, f"a {content_type} request body on a queued operation is not supported"
            )
        if http_key in self.prepared.request_media and body_model is None:
            # text, bytes, or a form/JSON media type without a schema: the caller passes the body.
            body_annotation = {"text": "str", "json": "object"}.get(body_kind, "bytes")
            if body_kind in ("form", "multipart"):
                body_annotation = "Mapping[str, object]"
            required = bool((deref(self.data, op.get("requestBody")) or {}).get("required"))
            params.append(
                Param(
                    name="body",
                    target="",
                    annotation=body_annotation if required else f"{body_annotation} | None",
                    required=required,
                    default="" if required else "None",
                    location="body",
                )
            )
        elif body_model is not None and body_schema is not None:
            if body_model not in self.models.classes:
                self.problem(where, f"request body model {body_model!r} was not generated")
            else:
                fills = self.autofill_fields(body_schema)
                if batched is not None:
                    fills.update({n: (DERIVED, False) for n in batched.derived})
                    fills.update({n: (STAMPED, False) for n in batched.stamped})
                cls = self.models.classes[body_model]
                fields = self.models.fields(body_model)
                read_only, write_only = self.body_directions(op) if batched is None else (set(), {})
                null_allowed = self.nullable_optional(op) if batched is None else set()
                field_params = []
                flatten = not cls.is_root
                body_taken = taken - {"body"}
                for f in fields:
                    if f.wire in fills:
                        kind, is_key = fills[f.wire]
                        if kind == STAMPED:
                            # The caller may give the event time; else the call time is used.
                            pname = names.unique(names.snake(f.wire), body_taken)
                            field_params.append(
                                Param(pname, f.name, "float | None", False, "None", "time")
                            )
                            expression = f"unix_seconds() if {pname} is None else {pname}"
                            autofills.append(Autofill(f.name, expression))
                        elif kind and kind != DERIVED:
                            autofills.append(Autofill(f.name, AUTOFILL_EXPRESSIONS[kind]))
                        if is_key:
                            idempotency_field = f.name
                        if kind:
                            continue
                    if f.wire in read_only and f.default:
                        # A response-only property is no argument, unless the model still
                        # requires it (readOnly on an allOf override of a required property).
                        continue
                    pname = f.wire if names.is_identifier(f.wire) else f.name
                    if pname in body_taken or not names.is_identifier(pname):
                        flatten = False
                        break
                    body_taken.add(pname)
                    nullable = write_only.get(f.wire) if f.default else None
                    param = self.field_param(pname, f, nullable)
                    if f.wire in null_allowed and not param.required and delivery == "blocking":
                        # None is a value here (`null`); leaving the argument out is UNSET.
                        param = replace(
                            param,
                            annotation=f"{param.annotation} | Unset",
                            default="UNSET",
                            null_allowed=True,
                        )
                    field_params.append(param)
                if flatten:
                    body_flattened = True
                    params.extend(field_params)
                else:
                    params.append(
                        Param("body", "", self.qualify_name(body_model), True, "", "body")
                    )
                    autofills = []
        raw = body_kind != "json" or any(p.location in ("header", "cookie") for p in params)
        if raw and static:
            self.problem(where, "a static method cannot send headers, cookies or non-JSON bodies")

        response_model = self.prepared.response_class.get(http_key)
        if response_model is not None:
            response_model = self.models.class_of(response_model)
        returns_field = ext.get("returns")
        return_annotation = "None"
        if delivery == "blocking" and response_model is not None:
            return_annotation = self.qualify_name(response_model)
            if returns_field:
                match = [f for f in self.models.fields(response_model) if f.wire == returns_field]
                if not match:
                    self.problem(
                        where, f"returns: {returns_field!r} is not a field of {response_model}"
                    )
                else:
                    returns_field = match[0].name
                    return_annotation = self.annotation(match[0].annotation)
        elif returns_field:
            self.problem(where, "returns: needs a blocking operation with a JSON response")
        if delivery == "queued":
            response_model = None

        stream = self.prepared.stream_item.get(http_key)
        template = path
        for wire, py in path_names.items():
            template = template.replace("{" + wire + "}", "{" + py + "}")
        if path_names and any(c in template for c in "\"'\\"):
            self.problem(where, "path contains quotes or backslashes")

        return Operation(
            key=key,
            name=name,
            route_const="_" + names.constant(key),
            http_method=method.upper(),
            path=path,
            path_template=template if path_names else "",
            operation_id=str(op.get("operationId") or ""),
            summary=names.docstring(op.get("summary")),
            description=names.docstring(op.get("description")),
            delivery=delivery,
            static=static,
            category=category,
            mutable=delivery == "queued" and category in muted,
            auth=auth,
            body_model=body_model,
            body_flattened=body_flattened,
            params=tuple(params),
            autofills=tuple(autofills),
            idempotency_field=idempotency_field,
            response_model=response_model,
            returns_field=returns_field,
            return_annotation=return_annotation,
            example_call=self.example(key, static, params),
            body_kind=body_kind,
            content_type=content_type,
            raw=raw,
            stream_item_model=self.models.class_of(stream[0]) if stream else None,
            stream_media_type=stream[1] if stream else None,
            route_extras=self.route_extras(ext, batched, where, body_schema),
        )

    def constants(self) -> tuple[Setting, ...]:
        """Client settings from `info.x-ingest.constants`: keyword arguments, else env vars."""
        found = []
        for name, spec in sorted((self.ext.get("constants") or {}).items()):
            annotation = _SCALARS.get(spec.get("type", "string"), "str")
            default = repr(spec["default"]) if "default" in spec else "None"
            found.append(
                Setting(
                    name=names.snake(name),
                    annotation=annotation,
                    env=spec.get("env"),
                    default=default,
                    required=bool(spec.get("required", False)),
                    doc=names.docstring(spec.get("description")),
                )
            )
        return tuple(found)

    def route_extras(
        self,
        ext: dict[str, Any],
        batched: BatchedItem | None,
        where: tuple[str, ...],
        body_schema: str | None = None,
    ) -> tuple[str, ...]:
        """`Route` keyword arguments for batching, derived fields, redaction and signing."""
        if not any(k in ext for k in ("batch", "derive", "redact", "omit_none")):
            return ()
        if ext.get("delivery") != "queued":
            self.problem(where, "batch, derive, redact and omit_none need `delivery: queued`")
            return ()
        extras = []
        if ext.get("omit_none"):
            extras.append("omit_none=True")
        if batched is not None:
            extras.append(f"batch={self.recipes.batch(ext['batch'])}")
        if ext.get("derive"):
            extras.append(f"derive={self.recipes.derive(ext['derive'])}")
        if ext.get("redact"):
            extras.append(f"redact={self.recipes.redact(ext['redact'])}")
        signature = batched.signature if batched is not None else None
        if batched is None and body_schema is not None:  # one item per request, signed alike
            document = self.prepared.document
            item = document["components"]["schemas"].get(body_schema)
            signature = find_signature(document, item, (), 0) if item is not None else None
        if signature is not None:
            target, recipe = signature
            extras.append(f"sign={self.recipes.sign(target, recipe)}")
        return tuple(extras)

    def default_key(self, method: str, path: str, op: dict[str, Any]) -> str:
        op_id = op.get("operationId")
        name = names.snake(op_id) if op_id else names.snake(f"{method} {path}")
        tags = op.get("tags") or []
        if tags and isinstance(tags[0], str):
            return f"{names.snake(tags[0])}.{name}"
        return name

    def autofill_fields(self, schema_name: str) -> dict[str, tuple[str | None, bool]]:
        """Wire names of body properties marked autofill or idempotency key, through allOf."""
        found: dict[str, tuple[str | None, bool]] = {}
        schemas = self.prepared.document["components"]["schemas"]

        def visit(schema: Any, depth: int) -> None:
            schema = deref(self.prepared.document, schema)
            if not isinstance(schema, dict) or depth > 32:
                return
            for part in schema.get("allOf") or []:
                visit(part, depth + 1)
            for wire, prop in (schema.get("properties") or {}).items():
                ext = prop.get(extensions.KEY) if isinstance(prop, dict) else None
                if isinstance(ext, dict) and ("autofill" in ext or ext.get("idempotency_key")):
                    found[wire] = (ext.get("autofill"), bool(ext.get("idempotency_key")))

        visit(schemas.get(schema_name), 0)
        return found

    def param_annotation(self, param: dict[str, Any]) -> str:
        """A parameter's type: its scalar type, or a list of scalars; anything else as str."""
        schema = deref(self.data, param.get("schema") or {})
        if not isinstance(schema, dict):
            return "str"
        kind = schema.get("type")
        if isinstance(kind, list):  # 3.1: ["string", "null"]
            kinds = [k for k in kind if k != "null"]
            kind = kinds[0] if len(kinds) == 1 else None
        if kind == "array":
            items = deref(self.data, schema.get("items") or {})
            item_kind = items.get("type") if isinstance(items, dict) else None
            item = _SCALARS.get(item_kind, "str") if isinstance(item_kind, str) else "str"
            return f"list[{item}]"
        return _SCALARS.get(kind, "str") if isinstance(kind, str) else "str"

    def body_directions(self, op: dict[str, Any]) -> tuple[set[str], dict[str, bool]]:
        """The request body's readOnly properties (never arguments), and its required writeOnly
        ones (required arguments although the shared model cannot require them), with whether
        each is nullable. Read from the spec as written: prepare() relaxed its copy."""
        body = deref(self.data, op.get("requestBody"))
        media = body_media(body.get("content") if isinstance(body, dict) else None)
        if media is None:
            return set(), {}
        schema = media[2].get("schema")
        props = own_properties(self.data, schema)
        required = _required_names(self.data, schema)
        read_only = {n for n, p in props.items() if directional(self.data, p) == "readOnly"}
        write_only = {
            n: _nullable(deref(self.data, p))
            for n, p in props.items()
            if n in required and directional(self.data, p) == "writeOnly"
        }
        return read_only, write_only

    def nullable_optional(self, op: dict[str, Any]) -> set[str]:
        """The request body's optional properties whose schema admits null (as written)."""
        body = deref(self.data, op.get("requestBody"))
        media = body_media(body.get("content") if isinstance(body, dict) else None)
        if media is None:
            return set()
        schema = media[2].get("schema")
        required = _required_names(self.data, schema)
        return {
            n
            for n, p in own_properties(self.data, schema).items()
            if n not in required
            and isinstance(deref(self.data, p), dict)
            and _nullable(deref(self.data, p))
        }

    def field_param(self, pname: str, f: ModelField, nullable: bool | None = None) -> Param:
        """An argument for a body field; `nullable` given: required although the model's
        field is optional (a required writeOnly property), None only if the spec allows it."""
        annotation = self.annotation(f.annotation)
        if nullable is not None:
            if not nullable and annotation.endswith(" | None"):
                annotation = annotation[: -len(" | None")]
            return Param(
                name=pname,
                target=f.name,
                annotation=annotation,
                required=True,
                default="",
                location="body",
                doc=names.docstring(f.doc),
            )
        default = f.default
        if default[:1] in ("[", "{") or default.endswith(")"):
            # A mutable default would be shared between calls: the model fills it instead.
            default = "None"
            if not re.search(r"(^|\| )None($| \|)", annotation):
                annotation += " | None"
        return Param(
            name=pname,
            target=f.name,
            annotation=annotation,
            required=not f.default,
            default=default,
            location="body",
            doc=names.docstring(f.doc),
        )

    # -- annotations ----------------------------------------------------------------------------

    def annotation(self, node: ast.expr) -> str:
        """A model field's annotation as it reads in client.py: no Annotated, qualified models."""
        node = _strip_annotated(node)
        classes, imports = self.models.classes, self.models.imports
        qualified: list[tuple[ast.Name, str]] = []
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                if n.id in classes:
                    qualified.append((n, n.id))
                elif n.id in imports:
                    self.used_imports.add(n.id)
        if not qualified:
            return ast.unparse(node)
        # The index's trees are shared (a field, its subclasses, other operations): a model's
        # name is qualified in place for this one unparse and put back (a name is written as
        # its `id`, which reads `_models.X` then, as the attribute `_models.X` would).
        try:
            for n, name in qualified:
                n.id = f"{MODELS_ALIAS}.{name}"
            return ast.unparse(node)
        finally:
            for n, name in qualified:
                n.id = name

    def qualify_name(self, class_name: str) -> str:
        return f"{MODELS_ALIAS}.{class_name}"

    # -- namespaces and collisions --------------------------------------------------------------

    def check_collisions(self, operations: list[Operation]) -> None:
        """Two operations on one method, a method named like a namespace, a client attribute."""
        by_key: dict[str, Operation] = {}
        namespaces = {
            ".".join(op.key.split(".")[:depth])
            for op in operations
            for depth in range(1, op.key.count(".") + 1)
        }
        for op in operations:
            where = ("paths", op.path, op.http_method.lower())
            other = by_key.setdefault(op.key, op)
            if other is not op:
                self.problem(
                    where,
                    f"method {op.key!r} is also generated for {other.http_method} {other.path}; "
                    f"set {extensions.KEY}.method on one of them",
                )
            if op.key in namespaces:
                self.problem(where, f"method {op.key!r} has the same name as a namespace")
            top = op.key.split(".")[0]
            if top in CLIENT_ATTRIBUTES:
                self.problem(where, f"{top!r} is a client attribute; choose another method name")

    def namespaces(self, operations: list[Operation]) -> Namespace:
        root = Namespace(attr="", class_name="", dotted="")
        for op in sorted(operations, key=lambda o: o.key):
            node = root
            parts = op.key.split(".")[:-1]
            for depth, part in enumerate(parts):
                match = [c for c in node.children if c.attr == part]
                if match:
                    node = match[0]
                else:
                    child = Namespace(
                        attr=part,
                        dotted=".".join(parts[: depth + 1]),
                        class_name=names.pascal("_".join(parts[: depth + 1])) + "Namespace",
                    )
                    node.children.append(child)
                    node = child
            node.operations.append(op)
        return root

    def retry_policy(self, has_files: bool) -> RetryPolicy:
        """`info.x-ingest.retry`; held statuses need the local files of a client with recipes."""
        ext = self.ext.get("retry") or {}
        transient = tuple(sorted(ext.get("transient", RetryPolicy.transient)))
        hold = tuple(sorted(ext.get("hold", ())))
        where = ("info", extensions.KEY, "retry", "hold")
        retried = [s for s in hold if s in transient or 500 <= s <= 599]
        if retried:
            self.problem(where, f"status {retried[0]} is retried, so it cannot also be held")
        if hold and not has_files:
            self.problem(
                where,
                "held batches live in the fallback directory: no operation batches, "
                "derives, redacts or signs, so this client has none",
            )
        return RetryPolicy(
            max_attempts=int(ext.get("max_attempts", RetryPolicy.max_attempts)),
            backoff=tuple(float(s) for s in ext.get("backoff", ())),
            jitter=float(ext.get("jitter", 0.0)),
            transient=transient,
            hold=hold,
        )

    def problem(self, where: tuple[str, ...], message: str) -> None:
        self.problems.append(Problem(self.file, pointer(*where), message))

    def example(self, key: str, static: bool, params: list[Param]) -> str:
        args = ", ".join(f"{p.name}={_example_value(p.annotation)}" for p in params if p.required)
        if static:
            return f"{{client_class}}.{key}(base_url=BASE_URL{', ' + args if args else ''})"
        return f"client.{key}({args})"


def _required_names(doc: dict[str, Any], schema: Any, depth: int = 0) -> set[str]:
    """`required` of an object schema and of its allOf parts."""
    schema = deref(doc, schema)
    if not isinstance(schema, dict) or depth > 32:
        return set()
    listed = schema.get("required")
    found = {r for r in listed if isinstance(r, str)} if isinstance(listed, list) else set()
    for part in schema.get("allOf") or []:
        found |= _required_names(doc, part, depth + 1)
    return found


def _nullable(schema: Any) -> bool:
    """Whether a property schema admits null (3.0 `nullable`, 3.1 type arrays, a null variant)."""
    if not isinstance(schema, dict):
        return True
    kind = schema.get("type")
    if schema.get("nullable") is True or kind == "null":
        return True
    if isinstance(kind, list) and "null" in kind:
        return True
    variants = [*(schema.get("anyOf") or []), *(schema.get("oneOf") or [])]
    return any(isinstance(v, dict) and v.get("type") == "null" for v in variants)


def _flatten(node: Namespace) -> list[Namespace]:
    found = []
    for child in node.children:
        found.append(child)
        found.extend(_flatten(child))
    return found


def _example_value(annotation: str) -> str:
    first = annotation.split(" | ")[0]
    if first.startswith("Literal["):
        return first[len("Literal[") :].split(",")[0].rstrip("]")
    return {
        "str": '"example"',
        "int": "1",
        "float": "1.0",
        "bool": "True",
    }.get(first, "...")


def _strip_annotated(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "Annotated":
        inner = node.slice
        if isinstance(inner, ast.Tuple) and inner.elts:
            return _strip_annotated(inner.elts[0])
    return node


# PEP 440, as written in its appendix (canonical public versions and local labels).
_PEP440 = re.compile(
    r"v?(?:\d+!)?\d+(?:\.\d+)*(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?\d*)?"
    r"(?:-\d+|[-_.]?(?:post|rev|r)[-_.]?\d*)?(?:[-_.]?dev[-_.]?\d*)?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?",
    re.IGNORECASE,
)


def distribution_version(version: str) -> str:
    """The version of the generated distribution: `info.version` when it is a PEP 440 version,
    else `0.0.0+<its letters and digits>` (or `0.0.0` when none are left), because pip and
    hatchling refuse anything else. `info.version` itself is kept verbatim in `__version__`."""
    text = version.strip()
    if _PEP440.fullmatch(text):
        return text
    label = ".".join(re.findall(r"[A-Za-z0-9]+", text)).lower()
    return f"0.0.0+{label}" if label else "0.0.0"


def build_version(
    data: dict[str, Any],
    file: str,
    sha256: str,
    folder: str,
    prepared: PreparedSchemas,
    models: ModelsModule,
    batches: dict[str, BatchedItem] | None = None,
) -> ServiceVersion:
    return _Builder(data, file, sha256, folder, prepared, models, batches).build()
