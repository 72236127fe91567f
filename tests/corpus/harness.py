"""Run the generator over real specs written by others, and check what comes out.

`python -m tests.corpus.harness [NAME ...] [--lenient] [--no-mypy]` copies each corpus folder
(`/work/shared/corpus/<name>/`, or `$CORPUS`) into a temporary specs tree, generates, imports the
client, runs ruff and `mypy --strict` over it, and prints one table row per spec. `make corpus` runs
every spec. The same functions back the small subset in `tests/corpus/test_corpus.py`.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("CORPUS", "/work/shared/corpus"))
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")
# Three of the four specs openapi-spec-validator rejects need --lenient (docs/corpus.md).
LENIENT = frozenset({"langfuse", "braintrust", "openai"})
RUFF_ARGS = ["--isolated", "--line-length", "100"]


@dataclass
class Row:
    name: str
    operations: int = 0
    schemas: int = 0
    methods: int = -1
    classes: int = -1
    generated: bool = False
    imported: bool | None = None
    ruff: bool | None = None
    typed: bool | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.generated
            and self.imported is not False
            and self.ruff is not False
            and self.typed is not False
            and self.methods == self.operations
            and self.classes >= self.schemas
        )


def main_file(folder: Path) -> Path:
    """The one spec file at the top of a corpus folder (other files are $ref targets)."""
    top = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json")
    )
    if len(top) != 1:
        raise ValueError(f"{folder}: expected one top-level spec file, found {len(top)}")
    return top[0]


def read_spec(path: Path) -> dict[str, object]:
    raw = path.read_bytes()
    if path.suffix == ".json":
        return dict(json.loads(raw))
    return dict(yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def count(spec: dict[str, object]) -> tuple[int, int]:
    """(operations under `paths`, entries in `components.schemas`)."""
    paths = spec.get("paths") or {}
    ops = sum(
        1
        for item in paths.values()  # type: ignore[union-attr]
        if isinstance(item, dict)
        for m in HTTP_METHODS
        if isinstance(item.get(m), dict)
    )
    schemas = ((spec.get("components") or {}).get("schemas")) or {}  # type: ignore[union-attr]
    return ops, len(schemas)


def stage(source: Path, specs_root: Path) -> tuple[str, dict[str, object]]:
    """Copy a corpus folder to `specs_root/<folder>/`, the main file renamed `v<major>.<ext>`."""
    name = source.name.replace("-", "_")
    target = specs_root / name
    shutil.copytree(source, target)
    main = main_file(target)
    spec = read_spec(main)
    version = str((spec.get("info") or {}).get("version", ""))  # type: ignore[union-attr]
    match = re.match(r"\d+", version)
    major = int(match.group()) if match else 0
    ext = ".json" if main.suffix == ".json" else ".yaml"
    main.rename(target / f"v{max(major, 1)}{ext}")
    return name, spec


def client_counts(package_dir: Path) -> tuple[int, int]:
    """(methods in every client.py, classes in every models.py) of a generated package."""
    methods = classes = 0
    for client in package_dir.rglob("client.py"):
        for node in ast.parse(client.read_text()).body:
            if isinstance(node, ast.ClassDef):
                methods += sum(
                    1 for f in node.body if isinstance(f, ast.FunctionDef) and f.name != "__init__"
                )
    for models in package_dir.rglob("models.py"):
        classes += sum(isinstance(n, ast.ClassDef) for n in ast.parse(models.read_text()).body)
    return methods, classes


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 900
) -> tuple[int, str]:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


def check_spec(
    source: Path, work: Path, *, lenient: bool = False, mypy: bool = True, ruff: bool = True
) -> Row:
    """Generate one corpus spec under `work` and check the package. Never raises."""
    row = Row(source.name)
    specs, out = work / "specs", work / "generated"
    specs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    folder, spec = stage(source, specs)
    row.operations, row.schemas = count(spec)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "codegen", "generate", "--no-cache", "--specs", str(specs)]
    cmd += ["--out", str(out), "--cache-dir", str(work / "cache"), folder]
    if lenient:
        cmd.append("--lenient")
    started = time.perf_counter()
    code, output = run(cmd, work, env)
    row.seconds = time.perf_counter() - started
    row.generated = code == 0
    if not row.generated:
        row.notes.append(output.strip()[-2000:])
        return row
    packages = [p for p in out.iterdir() if p.is_dir()]
    package_root = packages[0]
    package = package_root / package_root.name
    row.methods, row.classes = client_counts(package)
    env_import = {**env, "PYTHONPATH": os.pathsep.join([str(package_root), str(ROOT / "runtime")])}
    modules = sorted(f"{package.name}.{p.parent.name}.client" for p in package.glob("v*/client.py"))
    code, output = run(
        [sys.executable, "-c", "; ".join(f"import {m}" for m in modules)], work, env_import
    )
    row.imported = code == 0
    if code:
        row.notes.append(output.strip()[-2000:])
    if ruff:
        lint, out1 = run(
            [sys.executable, "-m", "ruff", "check", *RUFF_ARGS, "--extend-select", "I", "."],
            package_root,
        )
        fmt, out2 = run(
            [sys.executable, "-m", "ruff", "format", "--check", *RUFF_ARGS, "."], package_root
        )
        row.ruff = lint == 0 and fmt == 0
        if not row.ruff:
            row.notes.append((out1 + out2).strip()[-2000:])
    if mypy:
        cmd = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(work / "mypy")]
        code, output = run([*cmd, package.name], package_root, env_import)
        row.typed = code == 0
        if code:
            row.notes.append(output.strip()[-2000:])
    return row


def corpus_names() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def _mark(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def table(rows: list[Row]) -> str:
    head = (
        "| spec | operations | methods | schemas | classes | generated | import | ruff "
        "| type check | seconds |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---|---|---|---|---:|"]
    for r in rows:
        methods = "-" if r.methods < 0 else str(r.methods)
        classes = "-" if r.classes < 0 else str(r.classes)
        lines.append(
            f"| {r.name} | {r.operations} | {methods} | {r.schemas} | {classes} | "
            f"{_mark(r.generated)} | {_mark(r.imported)} | {_mark(r.ruff)} | {_mark(r.typed)} | "
            f"{r.seconds:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="corpus entries (default: all)")
    parser.add_argument("--no-mypy", action="store_true")
    parser.add_argument(
        "--strict", action="store_true", help="no --lenient, even for the three that need it"
    )
    args = parser.parse_args(argv)
    rows = []
    for name in args.names or corpus_names():
        with tempfile.TemporaryDirectory(prefix=f"corpus-{name}-") as tmp:
            lenient = name in LENIENT and not args.strict
            row = check_spec(CORPUS / name, Path(tmp), lenient=lenient, mypy=not args.no_mypy)
        rows.append(row)
        status = "ok" if row.ok else "FAIL"
        print(f"{name}: {status} ({row.seconds:.1f}s)", flush=True)
        for note in row.notes:
            print("    " + note.replace("\n", "\n    "), flush=True)
    print()
    print(table(rows))
    failed = [r.name for r in rows if not r.ok]
    print(
        f"\n{len(rows) - len(failed)}/{len(rows)} specs ok"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
