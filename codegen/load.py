"""Load a spec file into one self-contained document.

YAML goes through libyaml's C loader when available (several times faster than the pure-Python
loaders on big specs). References into other files are inlined, so every later stage sees one
document whose only `$ref`s are local (`#/...`). Every file read is hashed: the hashes key the
generation cache and the do-not-edit header.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from codegen.errors import Problem, SpecError, pointer

try:  # libyaml is optional at install time; fall back to the pure-Python loader.
    _YamlLoader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _YamlLoader = yaml.SafeLoader


@dataclass
class Document:
    """A loaded spec: its data with local refs only, and where it came from."""

    path: Path
    data: dict[str, Any]
    sha256: str
    files: dict[str, str] = field(default_factory=dict)  # every file read -> its sha256
    content_key: str = ""  # hash over every file read: changes when any of them changes

    @property
    def display_path(self) -> str:
        return _display(self.path)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_raw(path: Path) -> tuple[Any, bytes]:
    """Parse one YAML or JSON file; syntax errors become a SpecError with a line and column."""
    shown = _display(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError.single(shown, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(raw), raw
        return yaml.load(raw, Loader=_YamlLoader), raw  # noqa: S506 - safe loader
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise SpecError.single(shown, "", msg) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError.single(shown, "", f"invalid YAML{where}: {problem}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise SpecError.single(shown, "", f"cannot decode file: {exc}") from None


def load_document(path: Path) -> Document:
    """Read a spec, inline external refs, and check that every local ref resolves."""
    path = Path(path)
    data, raw = read_raw(path)
    shown = _display(path)
    if not isinstance(data, dict) or not ({"openapi", "swagger"} & set(data)):
        raise SpecError.single(
            shown, "", "not an OpenAPI document: expected a mapping with an `openapi` key"
        )
    files = {shown: hashlib.sha256(raw).hexdigest()}
    inliner = _ExternalInliner(path.resolve(), data, files)
    data = inliner.inline(data, path.resolve(), data, ())
    if path.suffix.lower() != ".json" or len(files) > 1:  # JSON has only string keys, no dates
        _normalise_keys(data)
    check_local_refs(data, shown)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]}\n".encode())
    return Document(
        path=path, data=data, sha256=files[shown], files=files, content_key=digest.hexdigest()
    )


def _normalise_keys(node: Any) -> None:
    """Make the document JSON data, as OpenAPI is: YAML turns `200:` into an int key and an
    unquoted `2024-01-01` (in an example or a default) into a date."""
    if isinstance(node, dict):
        for key in [k for k in node if not isinstance(k, str)]:
            node[_scalar_text(key)] = node.pop(key)
        for key, value in node.items():
            if isinstance(value, (datetime.date, datetime.datetime)):
                node[key] = value.isoformat()
            else:
                _normalise_keys(value)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, (datetime.date, datetime.datetime)):
                node[i] = item.isoformat()
            else:
                _normalise_keys(item)


def _scalar_text(key: Any) -> str:
    if isinstance(key, (datetime.date, datetime.datetime)):
        return key.isoformat()
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


def resolve_pointer(data: Any, ref: str) -> Any:
    """Follow a local JSON pointer (`#/a/b`); KeyError when it does not resolve."""
    if ref in ("#", ""):
        return data
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node = data
    for raw_part in ref[2:].split("/"):
        part = unquote(raw_part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(ref)
    return node


def check_local_refs(data: dict[str, Any], file: str) -> None:
    """Every `$ref` resolves, and no ref chain points back at itself without content."""
    problems: list[Problem] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                problem = _check_ref(data, ref)
                if problem:
                    problems.append(Problem(file, pointer(*path, "$ref"), problem))
            for key, value in node.items():
                walk(value, (*path, str(key)))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, (*path, str(i)))

    walk(data, ())
    if problems:
        raise SpecError(problems)


def _check_ref(data: dict[str, Any], ref: str) -> str | None:
    seen: list[str] = []
    current = ref
    while True:
        if current in seen:
            chain = " -> ".join([*seen, current])
            return f"$ref cycle with no schema in between: {chain}"
        seen.append(current)
        try:
            target = resolve_pointer(data, current)
        except KeyError:
            return f"$ref {current!r} does not resolve to anything in the document"
        if isinstance(target, dict) and isinstance(target.get("$ref"), str) and len(target) == 1:
            current = target["$ref"]
            continue
        return None


class _ExternalInliner:
    """Replace `other.yaml#/x` refs by the referenced content, recursively."""

    def __init__(self, root: Path, root_data: Any, files: dict[str, str]) -> None:
        self.root = root
        self.cache: dict[Path, Any] = {root: root_data}
        self.files = files
        self.stack: list[str] = []

    def _file(self, path: Path, referrer: str, ptr: str) -> Any:
        if path not in self.cache:
            if not path.is_file():
                raise SpecError.single(referrer, ptr, f"$ref points to a missing file: {path.name}")
            data, raw = read_raw(path)
            self.files[_display(path)] = hashlib.sha256(raw).hexdigest()
            self.cache[path] = data
        return self.cache[path]

    def inline(self, node: Any, file: Path, file_data: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [self.inline(v, file, file_data, (*path, str(i))) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and (not ref.startswith("#") or file != self.root):
            return self._inline_ref(ref, node, file, path)
        return {k: self.inline(v, file, file_data, (*path, str(k))) for k, v in node.items()}

    def _inline_ref(self, ref: str, node: dict[str, Any], file: Path, path: tuple[str, ...]) -> Any:
        referrer = _display(file)
        ptr = pointer(*path, "$ref")
        target_file, _, fragment = ref.partition("#")
        target_path = (file.parent / unquote(target_file)).resolve() if target_file else file
        if target_path == self.root and not fragment.startswith("/") and fragment:
            raise SpecError.single(referrer, ptr, f"unsupported $ref {ref!r}")
        if target_path == self.root:
            return {"$ref": "#" + fragment, **{k: v for k, v in node.items() if k != "$ref"}}
        key = f"{target_path}#{fragment}"
        if key in self.stack:
            raise SpecError.single(
                referrer, ptr, f"recursive $ref across files is not supported: {ref!r}"
            )
        data = self._file(target_path, referrer, ptr)
        try:
            target = resolve_pointer(data, "#" + fragment)
        except KeyError:
            raise SpecError.single(referrer, ptr, f"$ref {ref!r} does not resolve") from None
        self.stack.append(key)
        try:
            inlined = self.inline(copy.deepcopy(target), target_path, data, ())
        finally:
            self.stack.pop()
        return inlined
