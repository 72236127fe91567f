"""The generator's data flow, top to bottom, for one service folder:

spec files -> load -> precheck (bad defaults dropped) -> prepare schemas -> pydantic models
-> service model -> render templates -> ruff -> {path: text}, with the OpenAPI validator and
the x-ingest checks in a forked child alongside the models step (their verdict is applied
before the service model), and ruff on each models.py in a thread from the moment its models
exist (the final ruff pass takes that result).

Results are cached by the content of the spec files and of the generator itself, so an
unchanged spec costs one hash, not a validation and a models run.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from codegen import names
from codegen.errors import Problem, SpecError

if TYPE_CHECKING:
    from codegen.fmt import Background
    from codegen.model import ServiceVersion
    from codegen.pymodels import ModelsModule

T = TypeVar("T")
SPEC_NAME = re.compile(r"^v(\d+)\.(ya?ml|json)$")
CODEGEN_DIR = Path(__file__).resolve().parent
TEMPLATES = CODEGEN_DIR.parent / "templates"


@dataclass(frozen=True)
class ServiceFolder:
    name: str  # folder name under specs/
    specs: list[Path]  # v<major> files, ascending by major


def discover(specs_root: Path) -> list[ServiceFolder]:
    """Service folders under specs/, each with its `v<major>.yaml|json` files."""
    found = []
    for folder in sorted(p for p in specs_root.iterdir() if p.is_dir()):
        specs = sorted(
            (p for p in folder.iterdir() if SPEC_NAME.match(p.name)),
            key=lambda p: int(SPEC_NAME.match(p.name).group(1)),  # type: ignore[union-attr]
        )
        if specs:
            found.append(ServiceFolder(folder.name, specs))
    return found


def generator_fingerprint() -> str:
    """Changes whenever the generator's code, templates or pinned tools change."""
    digest = hashlib.sha256()
    for path in sorted([*CODEGEN_DIR.rglob("*.py"), *TEMPLATES.rglob("*")]):
        if path.is_file() and "server" not in path.relative_to(CODEGEN_DIR.parent).parts[:2]:
            digest.update(path.relative_to(CODEGEN_DIR.parent).as_posix().encode())
            digest.update(path.read_bytes())
    for dist in ("datamodel-code-generator", "ruff", "pydantic", "jinja2"):
        digest.update(f"{dist}={metadata.version(dist)}".encode())
    return digest.hexdigest()


# The stages below import their heavy dependencies (openapi-spec-validator,
# datamodel-code-generator, Jinja) only when a spec is really regenerated: a cache hit,
# the common case for `make generate` and `make check`, never pays for them.


def _spec_version(
    path: Path,
    folder: str,
    lenient: bool = False,
    formats: list[Background] | None = None,
) -> ServiceVersion:
    """One spec file's service model. With `formats`, its models.py is formatted in the
    background from the moment its models exist (`fmt.start`), and the wait is appended."""
    from codegen.batching import plan_batches
    from codegen.build import build_version, operations_of
    from codegen.load import load_document
    from codegen.pymodels import generate_models
    from codegen.schemas import prepare
    from codegen.validate import _is_default, child_checks, judge, precheck

    doc = load_document(path)
    file = doc.display_path
    warnings = precheck(doc)
    # The OpenAPI validator (seconds on big specs) and the extension checks run in a child
    # process while the models are generated; their verdict is applied before anything is
    # built from them.
    pending = in_child(child_checks, (doc.data, file))
    failure: BaseException | None = None
    try:
        prepared = prepare(doc.data, file)
        batches = plan_batches(
            prepared.document, file, operations_of(prepared.document), prepared.request_class
        )
        models = generate_models(prepared.document, file, prepared.aliases, prepared.hoisted)
        if formats is not None:
            started = _format_models(doc.data, folder, path, file, doc.sha256, models)
            formats.extend([started] if started is not None else [])
    except Exception as exc:  # noqa: BLE001 - the validator's account of a bad spec comes first
        failure = exc
    found, extension_problems = pending()
    redo = any(_is_default(doc.data, p) for p, _ in found)
    for warning in judge(
        doc, found, warnings, lenient=lenient, extension_problems=extension_problems
    ):
        print(f"warning: {warning}", file=sys.stderr)
    if failure is not None:
        raise failure
    if redo:  # the validator found a bad default our own walk missed: it is gone now
        prepared = prepare(doc.data, file)
        batches = plan_batches(
            prepared.document, file, operations_of(prepared.document), prepared.request_class
        )
        models = generate_models(prepared.document, file, prepared.aliases, prepared.hoisted)
    version = build_version(doc.data, file, doc.sha256, folder, prepared, models, batches)
    expected = int(SPEC_NAME.match(path.name).group(1))  # type: ignore[union-attr]
    # Pre-1.0 APIs (0.x.y) live in v1.yaml: semver gives them no stable major of their own.
    if version.major != expected and not (version.major == 0 and expected == 1):
        raise SpecError.single(
            file, "/info/version", f"info.version {version.version!r} is not major {expected}"
        )
    version.major = expected
    return version


def _format_models(
    data: dict[str, Any], folder: str, path: Path, file: str, sha256: str, models: ModelsModule
) -> Background | None:
    """Start formatting the models.py this spec will have (ruff on the biggest file of the
    tree takes as long as building the service model, which it now runs beside). Should the
    file turn out otherwise (the validator's verdict made the models again), the final pass
    formats it as usual."""
    from codegen.build import package_and_title
    from codegen.fmt import start
    from codegen.render import ModelsPage, environment, render_models

    major = int(SPEC_NAME.match(path.name).group(1))  # type: ignore[union-attr]
    try:
        package, title = package_and_title(data, folder)
        page = ModelsPage(names.docstring(title), major, file, sha256, models.source)
        rel, text = render_models(environment(), package, package, page)
    except Exception:  # noqa: BLE001 - the spec's problems are reported by the build
        return None
    return start({rel: text})


def in_child(func: Callable[[Any], T], arg: Any) -> Callable[[], T]:
    """Start `func(arg)` in a forked child (the argument is shared, not copied or pickled) and
    return a function that waits for its result. Without fork it runs when asked."""
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux
        return lambda: func(arg)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child() -> None:
        try:
            send.send((True, func(arg)))
        except BaseException as exc:  # noqa: BLE001 - reported in the parent
            send.send((False, f"{type(exc).__name__}: {exc}"))

    proc = ctx.Process(target=child, daemon=True)
    proc.start()
    send.close()

    def result() -> T:
        try:
            ok, value = receive.recv()
        except EOFError:
            ok, value = False, f"process exited with code {proc.exitcode}"
        finally:
            receive.close()
            proc.join()
        if not ok:
            raise RuntimeError(f"{getattr(func, '__name__', 'child')} failed: {value}")
        return cast(T, value)

    return result


def generate_folder(folder: ServiceFolder, *, lenient: bool = False) -> dict[str, str]:
    """Every file of one service's package, formatted."""
    from codegen.build import distribution_version
    from codegen.fmt import format_python
    from codegen.handwritten import check_exports, load_handwritten
    from codegen.model import ServicePackage
    from codegen.render import environment, render_package

    formats: list[Background] = []
    versions = [_spec_version(p, folder.name, lenient, formats) for p in folder.specs]
    package = versions[-1].package
    for v in versions:
        if v.package != package:
            raise SpecError(
                [
                    Problem(
                        v.spec_file,
                        "/info/x-ingest/package",
                        f"package {v.package!r} differs from the newest major's {package!r}",
                    )
                ]
            )
    handwritten = load_handwritten(folder.specs[0].parent)
    check_exports(f"specs/{folder.name}/python", set(versions[-1].export_names), handwritten)
    pkg = ServicePackage(
        package=package,
        distribution=package.replace("_", "-"),
        folder=package,
        versions=versions,
        version=distribution_version(versions[-1].version),
        handwritten=handwritten,
    )
    files = format_python(render_package(pkg, environment()), formats)
    # Hand-written modules are copied as they are: formatting them is their author's job.
    files.update({f"{package}/{package}/{h.name}.py": h.source for h in handwritten})
    return files


class Cache:
    """Rendered output per service, keyed by the bytes of its spec folder and the generator."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.root = root
        self.fingerprint = fingerprint

    def key(self, folder: ServiceFolder) -> str:
        digest = hashlib.sha256(self.fingerprint.encode())
        base = folder.specs[0].parent
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            digest.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    def get(self, folder: ServiceFolder) -> dict[str, str] | None:
        path = self.root / f"{names.snake(folder.name)}-{self.key(folder)[:32]}.json"
        try:
            files: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return files

    def put(self, folder: ServiceFolder, files: dict[str, str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        prefix = f"{names.snake(folder.name)}-"
        for old in self.root.glob(prefix + "*.json"):
            old.unlink(missing_ok=True)
        path = self.root / f"{prefix}{self.key(folder)[:32]}.json"
        path.write_text(json.dumps(files, sort_keys=True), encoding="utf-8")
