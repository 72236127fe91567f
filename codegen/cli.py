"""Command line: `python -m codegen generate [--check] [SERVICE ...]` and `... serve SPEC`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from codegen.errors import SpecError
from codegen.pipeline import Cache, ServiceFolder, discover, generate_folder, generator_fingerprint
from codegen.tree import diff, on_disk, write

EXIT_DRIFT = 1
EXIT_SPEC_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate clients from specs/")
    gen.add_argument("services", nargs="*", help="service folders to generate (default: all)")
    gen.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    gen.add_argument("--specs", type=Path, default=Path("specs"), help="specs root")
    gen.add_argument("--out", type=Path, default=Path("generated"), help="output root")
    gen.add_argument("--no-cache", action="store_true", help="ignore the generation cache")
    gen.add_argument(
        "--lenient",
        action="store_true",
        help="generate despite OpenAPI violations, printing each as a warning (docs/corpus.md)",
    )
    gen.add_argument("--cache-dir", type=Path, default=Path(".cache/codegen"))

    serve = sub.add_parser("serve", help="run the reference server for a spec")
    serve.add_argument("spec", type=Path)
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--db", type=Path, default=None, help="SQLite file recording requests")
    serve.add_argument("--secret", default=None, help="HMAC key to verify signed items with")

    args = parser.parse_args(argv)
    if args.command == "serve":
        from codegen.server import serve as run_server

        run_server(args.spec, args.host, args.port, args.db, args.secret)
        return 0
    return generate(args)


def generate(args: argparse.Namespace) -> int:
    if not args.specs.is_dir():
        print(f"error: specs folder {args.specs} does not exist", file=sys.stderr)
        return EXIT_SPEC_ERROR
    folders = discover(args.specs)
    if args.services:
        unknown = sorted(set(args.services) - {f.name for f in folders})
        if unknown:
            print(
                f"error: no spec folder for {', '.join(unknown)} in {args.specs}", file=sys.stderr
            )
            return EXIT_SPEC_ERROR
        folders = [f for f in folders if f.name in args.services]
    cache = Cache(args.cache_dir, generator_fingerprint())
    wanted: dict[str, str] = {}
    produced: list[str] = []
    failed = 0
    for folder in folders:
        started = time.perf_counter()
        files, cached = _generate_one(
            folder, cache, use_cache=not args.no_cache and not args.lenient, lenient=args.lenient
        )
        elapsed = time.perf_counter() - started
        if files is None:
            failed += 1
            print(f"{folder.name}: FAILED ({elapsed:.2f}s)")
            continue
        wanted.update(files)
        produced.append(files_root(files))
        note = ", cached" if cached else ""
        print(f"{folder.name}: ok, {len(files)} files ({elapsed:.2f}s{note})")

    # Compare only what we produced; when generating everything, stale packages count too.
    roots = sorted(set(produced))
    if not args.services and failed == 0 and args.out.is_dir():
        roots = sorted({p.name for p in args.out.iterdir() if p.is_dir()} | set(produced))
    current = on_disk(args.out, roots)
    if args.check:
        changes = diff(current, wanted)
        if changes:
            sys.stdout.write(changes)
            print(
                "generated/ differs from what the specs produce: run `make generate`.",
                file=sys.stderr,
            )
            return EXIT_DRIFT if not failed else EXIT_SPEC_ERROR
        return EXIT_SPEC_ERROR if failed else 0
    changed = write(args.out, current, wanted)
    if changed:
        print(f"wrote {changed} file(s) under {args.out}/")
    return EXIT_SPEC_ERROR if failed else 0


def files_root(files: dict[str, str]) -> str:
    return next(iter(files)).split("/", 1)[0]


def _generate_one(
    folder: ServiceFolder, cache: Cache, *, use_cache: bool, lenient: bool = False
) -> tuple[dict[str, str] | None, bool]:
    if use_cache:
        hit = cache.get(folder)
        if hit is not None:
            return hit, True
    try:
        files = generate_folder(folder, lenient=lenient)
    except SpecError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return None, False
    except RecursionError:
        print(f"error: {folder.name}: schemas nest too deeply to generate", file=sys.stderr)
        return None, False
    except Exception as exc:  # noqa: BLE001 - one paragraph for the user, not a traceback
        print(
            f"error: {folder.name}: internal generator error ({type(exc).__name__}: {exc}). "
            "Please report it with the spec attached.",
            file=sys.stderr,
        )
        return None, False
    if not lenient:  # a lenient run's output is never served to a strict one
        cache.put(folder, files)
    return files, False
