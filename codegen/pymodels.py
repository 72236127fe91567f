"""Pydantic v2 models via datamodel-code-generator, and an index of what it produced.

The models module is generated once per spec in one call. The service builder reads the module's
classes and fields from its syntax tree (never by importing it), so method signatures use exactly
the annotations, aliases and defaults the models validate with.
"""

from __future__ import annotations

import ast
import gc
import json
import re
import tempfile
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from datamodel_code_generator import InputFileType, LiteralType, PythonVersion, generate
from datamodel_code_generator.enums import DataModelType

from codegen.bodies import HEADER as BODY_IMPORTS
from codegen.bodies import WrittenClass
from codegen.bodies import plain as plain_body
from codegen.bodies import render as render_bodies
from codegen.errors import SpecError
from codegen.schemas import RESERVED_CLASS_NAMES, SCHEMA_PREFIX


@dataclass(frozen=True, eq=False)  # `annotation` fills `parsed` in when first read
class ModelField:
    name: str  # Python attribute
    wire: str  # JSON key (alias, or the name itself)
    parsed: ast.expr | None  # the annotation's tree; None until first read (see `text`)
    default: str  # Python source of the default; "" when required
    doc: str
    # The annotation's source, for a field of a class written by codegen/bodies.py: parsed
    # when the service model reads it (a few hundred of Stripe's 5,800 such fields).
    text: str = ""

    @property
    def annotation(self) -> ast.expr:
        if self.parsed is None:
            object.__setattr__(self, "parsed", ast.parse(self.text, mode="eval").body)
        assert self.parsed is not None
        return self.parsed


@dataclass
class ModelClass:
    name: str
    bases: list[str]
    own_fields: list[ModelField]
    is_root: bool


@dataclass
class ModelsModule:
    source: str
    classes: dict[str, ModelClass]
    imports: dict[str, str] = field(default_factory=dict)  # name -> "from x import name"
    # component schema name -> its class, where they differ: the models generator gives a
    # component another name when a nested class of an earlier one took it (Stripe's
    # `BalanceTransaction` is `BalanceTransactionModel`, GitHub's `WorkflowRun` `WorkflowRun6`)
    renamed: dict[str, str] = field(default_factory=dict)

    def class_of(self, schema: str) -> str:
        """The class of a component schema (by its name in the prepared document)."""
        return self.renamed.get(schema, schema)

    def fields(self, class_name: str) -> list[ModelField]:
        """Every field of a class, inherited ones included, in pydantic's order."""
        cls = self.classes[class_name]
        merged: dict[str, ModelField] = {}
        for base in reversed(cls.bases):
            if base in self.classes:
                for f in self.fields(base):
                    merged[f.name] = f
        for f in cls.own_fields:
            merged[f.name] = f
        return list(merged.values())


def generate_models(
    document: dict[str, Any],
    file: str,
    aliases: dict[str, str],
    bodies: Collection[str] = (),
) -> ModelsModule:
    """Run datamodel-code-generator over the document's component schemas. Of `bodies` (the
    hoisted inline request/response schemas), the plain ones are written by codegen/bodies.py
    instead: the same classes at a fraction of the cost."""
    schemas = (document.get("components") or {}).get("schemas")
    if not schemas:
        return ModelsModule(source="from pydantic import BaseModel\n", classes={})
    components = {k for k in schemas if k not in bodies}
    own = {
        k: schemas[k]
        for k in sorted(bodies)
        if k in schemas
        and plain_body(schemas[k], components)
        and not any(a.startswith(f"{k}.") for a in aliases)
    }
    if not own:
        return _finish_with(*_run(document, file, aliases), {})
    rest = {k: v for k, v in schemas.items() if k not in own}
    reduced = {**document, "components": {**document["components"], "schemas": rest}}
    source, renamed = (
        _run(reduced, file, aliases) if rest else ("from __future__ import annotations\n", {})
    )
    return _finish_with(source, renamed, own, set(re.findall(r"^class (\w+)", source, flags=re.M)))


def _finish_with(
    source: str,
    renamed: dict[str, str],
    own: dict[str, Any],
    classes: Collection[str] = (),
) -> ModelsModule:
    source = _constrained_types(_plain_emails(_strip_banner(source)))
    written: list[WrittenClass] = []
    if own:
        head, sep, rest = source.partition("from __future__ import annotations\n")
        # Repeated imports are merged by ruff's import sorting (fmt.py) afterwards.
        source = head + sep + "\n" + BODY_IMPORTS + rest if sep else BODY_IMPORTS + source
        taken = {*classes, *RESERVED_CLASS_NAMES}
        text, own_renamed, written = render_bodies(own, taken, renamed)
        renamed = {**renamed, **own_renamed}
        source = source.rstrip("\n") + "\n\n\n"
        written_from = len(source)
        source += text
    module = finish(source, written, written_from) if written else finish(source)
    module.renamed = {k: v for k, v in renamed.items() if v in module.classes}
    return module


def _run(
    document: dict[str, Any], file: str, aliases: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """The models module, and the components whose class the models generator named otherwise
    (from its own account of what it wrote: `--emit-model-metadata`)."""
    try:
        with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
            warnings.simplefilter("ignore")
            # The document itself, not its JSON text: one copy of a big spec fewer at the peak
            # (16 MB on Stripe, 26 MB on GitHub). The models generator copies its top level and
            # changes nothing below (checked on every corpus spec); only its banner differs.
            source = generate(
                document,
                input_file_type=InputFileType.OpenAPI,
                output_model_type=DataModelType.PydanticV2BaseModel,
                target_python_version=PythonVersion.PY_310,
                enum_field_as_literal=LiteralType.All,
                use_annotated=True,
                field_constraints=True,
                use_standard_collections=True,
                use_union_operator=True,
                use_schema_description=True,
                use_field_description=True,
                use_double_quotes=True,
                allow_population_by_field_name=True,
                collapse_root_models=False,
                disable_timestamp=True,
                aliases=aliases or None,
                formatters=[],
                capitalise_enum_members=False,
                emit_model_metadata=Path(tmp) / "models.json",
            )
            metadata = json.loads((Path(tmp) / "models.json").read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - the models generator raises many kinds
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError.single(
            file, "/components/schemas", f"cannot generate models: {message}"
        ) from None
    if not isinstance(source, str):  # pragma: no cover - only when given an output path
        raise SpecError.single(file, "/components/schemas", "models generator wrote no module")
    return source, _renamed_components(metadata)


def _renamed_components(metadata: Any) -> dict[str, str]:
    """component name -> class name, for each component schema whose class has another name.
    Component names are class names already (schemas.prepare), so no JSON-pointer escapes."""
    renamed: dict[str, str] = {}
    for model in metadata.get("models") or []:
        ref, class_name = model.get("source_ref") or "", model.get("class_name") or ""
        if not ref.startswith(SCHEMA_PREFIX) or "/" in ref[len(SCHEMA_PREFIX) :]:
            continue
        name = ref[len(SCHEMA_PREFIX) :]
        if class_name and class_name != name:
            renamed[name] = class_name
    return renamed


def finish(
    source: str, written: Collection[WrittenClass] = (), written_from: int | None = None
) -> ModelsModule:
    """Edit the module where mypy would reject what pydantic accepts, and index it. The module
    is parsed once, one class at a time: the syntax tree of a whole big models module is most
    of this step's memory (Stripe: 120 MB for 2.2 MB of source, the peak of the whole run),
    while what the index keeps of it is a quarter of that. The edits only insert text inside
    lines and append comments, so the same trees serve for the index.

    `written`: the classes codegen/bodies.py wrote, all of the module from `written_from` on.
    They are indexed from what it says it wrote instead of being parsed back (Stripe: 1,750
    of 2,800 classes, half the text); they need no edits (no bases, no defaults but `None`
    on fields typed `... | None`)."""
    parsed = source if written_from is None else source[:written_from]
    # A syntax tree holds no cycles; the collector would only walk its million nodes again
    # and again (40 % of this step on GitHub's spec). What the models generator left in
    # cycles is collected first, so the trees reuse its memory.
    paused = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        class_names = set(re.findall(r"^class (\w+)", source, flags=re.M))
        try:
            module, casts, comments = _parse(parsed, _chunks(parsed), class_names)
        except SyntaxError:  # `class ` at the start of a line inside a docstring: one piece
            module, casts, comments = _parse(parsed, [(0, parsed)], class_names)
    finally:
        if paused:
            gc.enable()
    module.source = source
    for written_class in written:
        module.classes[written_class.name] = _written_class(written_class)
    for stmt in casts:
        # what indexing the edited text would have read: `cast(Any, <literal>)`
        cls, name = stmt
        module.classes[cls].own_fields = [
            replace(f, default=f"cast(Any, {f.default})") if f.name == name else f
            for f in module.classes[cls].own_fields
        ]
    if not casts and not comments:
        return module
    # Lines as the parser counts them (str.splitlines would also split at \f or \u2028 inside a
    # docstring); offsets are in bytes.
    lines = source.encode().split(b"\n")
    for start, col, end, end_col in sorted(casts.values(), reverse=True):
        lines[end - 1] = lines[end - 1][:end_col] + b")" + lines[end - 1][end_col:]
        lines[start - 1] = lines[start - 1][:col] + b"cast(Any, " + lines[start - 1][col:]
    for line, comment in comments.items():
        lines[line - 1] += comment.encode()
    source = b"\n".join(lines).decode()
    if casts:
        head, sep, rest = source.partition("from __future__ import annotations\n")
        if not sep:
            source = "from typing import Any, cast\n" + source
        else:
            source = head + sep + "\nfrom typing import Any, cast\n" + rest
        module.imports.setdefault("Any", "from typing import Any")
        module.imports.setdefault("cast", "from typing import cast")
    module.source = source
    return module


_CON = {"constr": "str", "conint": "int", "confloat": "float", "conbytes": "bytes"}


def _constrained_types(source: str) -> str:
    """`constr(max_length=2)` inside a type (the models generator writes it in dict values of
    root models) is a call mypy rejects: spell it `Annotated[str, Field(max_length=2)]`."""
    if not re.search(r"\bcon(str|int|float|bytes)\(", source):
        return source
    source = re.sub(
        r"\b(constr|conint|confloat|conbytes)\(([^()]*)\)",
        lambda m: f"Annotated[{_CON[m.group(1)]}, Field({m.group(2)})]",
        source,
    )
    source = re.sub(r"^from pydantic import (.*)$", _add_field_import, source, count=1, flags=re.M)
    head, sep, rest = source.partition("from __future__ import annotations\n")
    extra = "\nfrom typing import Annotated\n"
    return head + sep + extra + rest if sep else extra + source


def _add_field_import(match: re.Match[str]) -> str:
    names_ = [n.strip() for n in match.group(1).split(",") if n.strip()]
    kept = [n for n in names_ if n not in _CON]
    return f"from pydantic import {', '.join(sorted({*kept, 'Field'}))}"


def _ignore_literal_overrides(
    classes: list[ast.ClassDef], module: ModelsModule, class_names: set[str], offset: int
) -> dict[int, str]:
    """A variant narrowing its discriminator to a Literal overrides a base field typed with a
    root-model enum: fine for pydantic, an incompatible override for mypy, so say so. Returns
    the comment to append, by line (`offset` lines before the piece the classes are in). Bases
    come before their subclasses in the module, so they are in the index already."""

    def base_field(cls: ModelClass, name: str, depth: int = 0) -> ast.expr | None:
        for base in cls.bases:
            parent = module.classes.get(base)
            if parent is None or parent is cls or depth > 32:
                continue
            for f in parent.own_fields:
                if f.name == name:
                    return f.annotation
            found = base_field(parent, name, depth + 1)
            if found is not None:
                return found
        return None

    lines: dict[int, str] = {}
    for node in classes:
        cls = module.classes[node.name]
        if not any(b in module.classes and b != node.name for b in cls.bases):
            continue  # nothing to override
        for stmt in node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            inherited = base_field(cls, stmt.target.id)
            if inherited is None:
                continue
            own = ast.unparse(stmt.annotation)
            used = {n.id for n in ast.walk(inherited) if isinstance(n, ast.Name)}
            if "Literal[" in own and used & class_names:
                lines[stmt.lineno + offset] = "  # type: ignore[assignment]"
            elif own != ast.unparse(inherited):
                # Another type than the parent's (a variant of an allOf whose property differs):
                # maybe a subtype, maybe not; only mypy knows, so the ignore may go unused.
                lines[stmt.lineno + offset] = "  # type: ignore[assignment, unused-ignore]"
    return lines


def _plain_emails(source: str) -> str:
    """`format: email` as plain `str`: pydantic's EmailStr needs the optional email-validator
    package, which generated clients do not depend on."""
    if "EmailStr" not in source:
        return source
    source = re.sub(r"^from pydantic import (.*)$", _drop_email_import, source, flags=re.M)
    return re.sub(r"\bEmailStr\b", "str", source)


def _drop_email_import(match: re.Match[str]) -> str:
    kept = [n.strip() for n in match.group(1).split(",") if n.strip() != "EmailStr"]
    return f"from pydantic import {', '.join(kept)}" if kept else ""


def _cast_model_defaults(
    tree: ast.Module, classes: set[str], offset: int = 0
) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """`filters: Filters | None = {"a": []}` is what the models generator writes for an object
    default (pydantic validates it, `validate_default=True`); mypy rejects a dict there, so the
    literal is wrapped in `cast(Any, ...)`, which changes nothing at run time. The same for a
    constant on a model-typed field, a string on a non-string type (`AnyUrl`), and `None` on
    a field whose type has no None (`default: null` without `nullable`). Returns the span of
    each literal to wrap (lines counted from `offset`), by (class, field)."""
    edits: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if not (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(stmt.value, (ast.Dict, ast.List, ast.Constant))
            ):
                continue
            if _needs_cast(stmt.value, stmt.annotation, classes):
                v = stmt.value
                edits[(node.name, stmt.target.id)] = (
                    v.lineno + offset,
                    v.col_offset,
                    (v.end_lineno or v.lineno) + offset,
                    v.end_col_offset or 0,
                )
    return edits


def _needs_cast(value: ast.expr, annotation: ast.expr, classes: set[str]) -> bool:
    """Whether mypy would reject this default for this annotation although pydantic takes it."""
    if isinstance(value, ast.Constant) and value.value is None:
        # `default: null` on a schema that is not nullable: the annotation has no None
        inner = annotation
        if (
            isinstance(inner, ast.Subscript)
            and isinstance(inner.value, ast.Name)
            and inner.value.id == "Annotated"
        ):
            elts = inner.slice.elts if isinstance(inner.slice, ast.Tuple) else [inner.slice]
            inner = elts[0]
        top = [inner]
        while top and isinstance(top[-1], ast.BinOp):  # X | Y | None
            node = top.pop()
            assert isinstance(node, ast.BinOp)
            top += [node.left, node.right]
        nullable = any(isinstance(n, ast.Constant) and n.value is None for n in top) or any(
            _head(n) in ("Any", "Optional") for n in top
        )
        return not nullable
    used = {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)}
    return bool(used & classes) or _foreign_constant(value, used)


def _head(node: ast.expr) -> str:
    """`ast.unparse(node).split("[")[0]`, without writing the whole annotation out."""
    while isinstance(node, ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ast.unparse(node).split("[")[0]


_STR_TYPES = frozenset({"str", "Any", "Literal"})


def _foreign_constant(value: ast.expr, used: set[str]) -> bool:
    """A string default on a field typed `AnyUrl`, `UUID`, `datetime`...: pydantic accepts the
    text, mypy does not."""
    return (
        isinstance(value, ast.Constant) and isinstance(value.value, str) and not (used & _STR_TYPES)
    )


def _strip_banner(source: str) -> str:
    lines = source.splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines) + "\n"


def _parse(
    source: str, pieces: list[tuple[int, str]], class_names: set[str]
) -> tuple[ModelsModule, dict[tuple[str, str], tuple[int, int, int, int]], dict[int, str]]:
    """The index of the module, parsed piece by piece, and the edits it needs. `class_names`:
    every class of the module, also those defined further down (forward references)."""
    module = ModelsModule(source=source, classes={})
    casts: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    comments: dict[int, str] = {}
    for offset, piece in pieces:
        tree = ast.parse(piece)
        casts.update(_cast_model_defaults(tree, class_names, offset))
        found = index(tree, piece, module)
        comments.update(_ignore_literal_overrides(found, module, class_names, offset))
        del tree, found
    return module, casts, comments


def _chunks(source: str) -> list[tuple[int, str]]:
    """The module in pieces, each with the number of lines before it: the imports, then one
    class (and whatever follows it up to the next class) each."""
    starts = [0, *(m.start() + 1 for m in re.finditer(r"\nclass ", source)), len(source)]
    pieces: list[tuple[int, str]] = []
    offset = 0
    for previous, start, end in zip([0, *starts], starts, starts[1:], strict=False):
        offset += source.count("\n", previous, start)
        pieces.append((offset, source[start:end]))
    return pieces


def index(tree: ast.Module, source: str, module: ModelsModule) -> list[ast.ClassDef]:
    """Add the imports and classes of one parsed piece of the module to its index; returns
    the piece's classes."""
    # Walking every field's syntax for an `alias=` costs a second on big specs: only the
    # statements whose lines spell the word are walked.
    alias_lines = set()
    line, last = 1, 0
    for match in re.finditer("alias", source):
        line += source.count("\n", last, match.start())
        last = match.start()
        alias_lines.add(line)
    found = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                module.imports[alias.asname or alias.name] = (
                    f"from {node.module} import {alias.name}"
                )
        elif isinstance(node, ast.ClassDef):
            module.classes[node.name] = _class(node, alias_lines)
            found.append(node)
    return found


def _class(node: ast.ClassDef, alias_lines: set[int]) -> ModelClass:
    bases = [ast.unparse(b) for b in node.bases]
    is_root = any(b.startswith("RootModel") for b in bases)
    fields: list[ModelField] = []
    body = node.body
    for i, stmt in enumerate(body):
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        name = stmt.target.id
        if name == "model_config":
            continue
        doc = ""
        nxt = body[i + 1] if i + 1 < len(body) else None
        if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            doc = str(nxt.value.value).strip()
        span = range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1)
        wire = (any(n in alias_lines for n in span) and _alias(stmt)) or name
        value = stmt.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Field":
            default = _field_default(value)
        else:
            default = ast.unparse(value) if value is not None else ""
        fields.append(ModelField(name, wire, stmt.annotation, default, doc))
    return ModelClass(node.name, [b.split("[")[0] for b in bases], fields, is_root)


def _written_class(cls: WrittenClass) -> ModelClass:
    """What `_class` reads from a class bodies.py wrote, without parsing it."""
    fields = [
        ModelField(
            f.name,
            f.name,
            None,
            "" if f.required else "None",
            # the docstring's value, as the parser reads it: indented as written, unescaped
            _unescape(f.doc.replace("\n", "\n    ")).strip() if f.doc else "",
            f.annotation,
        )
        for f in cls.fields
    ]
    return ModelClass(cls.name, ["BaseModel"], fields, False)


def _unescape(text: str) -> str:
    """A docstring's text as Python reads it: `names.docstring` escapes only backslashes and
    quotes, so each backslash stands for the character after it."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.S) if "\\" in text else text


def _alias(stmt: ast.AnnAssign) -> str | None:
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Field":
            for kw in node.keywords:
                if kw.arg == "alias" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    return None


def _field_default(value: ast.expr | None) -> str:
    if isinstance(value, ast.Call):
        if value.args and not (
            isinstance(value.args[0], ast.Constant) and value.args[0].value is Ellipsis
        ):
            return ast.unparse(value.args[0])
        for kw in value.keywords:
            if kw.arg == "default":
                return ast.unparse(kw.value)
    return ""
