"""Time and peak memory of our generator vs datamodel-code-generator (models only) on big specs.

    .venv/bin/python bench/scale.py [stripe-npm github-npm ...]

Each run is a fresh process measured with `/usr/bin/time -v` when available (max RSS of the
largest single process; our OpenAPI validator runs in a forked child, counted separately),
else wall time only. Ours is the whole client (`generate --no-cache`: load, validate, models,
service model, templates, ruff); dmcg is
`datamodel-codegen --input X --output <dir> --output-model-type pydantic_v2.BaseModel
--disable-timestamp`. The goal is ratio <= 1.5 and <= 220 MB on Stripe. `classes` counts the
classes each models step wrote: ours include one per inline request/response body (and the
classes nested in it), which is what gives methods typed bodies. Figures are printed, never
asserted.

Ours and the anchor run BENCH_SCALE_ROUNDS times (default 3), back to back in each round;
each figure is the median, and the anchor ratio the median of the rounds' ratios (a single
pair gave 1.29 on Stripe, and 1.61 two hours later on a busier machine). Plain dmcg runs once.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.corpus.harness import CORPUS, LENIENT, ROOT, main_file, stage

# The anchor: datamodel-code-generator, models only, into a directory (Stripe's dotted schema
# names need one), as in /work/shared/research/anchors-scale.md.
DMCG_FLAGS = [
    "--input-file-type", "openapi", "--output-model-type", "pydantic_v2.BaseModel",
    "--disable-timestamp",
]  # fmt: skip
# The flags the anchor figures (4.19 s on Stripe, 17.6 s on GitHub) were measured with: literal
# enums and collapsed root models make datamodel-code-generator several times faster.
ANCHOR_FLAGS = [
    *DMCG_FLAGS, "--enum-field-as-literal", "all", "--use-annotated", "--field-constraints",
    "--use-standard-collections", "--use-union-operator", "--target-python-version", "3.11",
    "--collapse-root-models", "--use-double-quotes", "--formatters", "ruff-format",
]  # fmt: skip
ROUNDS = max(1, int(os.environ.get("BENCH_SCALE_ROUNDS", "3")))


def classes(path: Path) -> int:
    """Classes written under a models file or package (what the models step had to build)."""
    files = [path] if path.is_file() else sorted(path.rglob("*.py")) if path.is_dir() else []
    return sum(f.read_text(encoding="utf-8").count("\nclass ") for f in files)


def measure(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    timer = shutil.which("time") or "/usr/bin/time"
    wrapped = [timer, "-v", *cmd] if Path(timer).exists() else cmd
    started = time.perf_counter()
    proc = subprocess.run(wrapped, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    rss = int(match.group(1)) / 1024 if match else float("nan")
    return wall, rss, proc.returncode


def main(names: list[str]) -> None:
    bindir = Path(sys.executable).parent
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"  # ruff for dmcg
    print(
        "| spec | ours s | ours MB | rc | classes | dmcg s | dmcg MB | rc | ratio "
        "| dmcg anchor flags s | MB | rc | classes | ratio |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|")
    for name in names or ["stripe-npm", "github-npm"]:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            folder, _ = stage(CORPUS / name, work / "specs")
            spec = str(main_file(CORPUS / name))

            def dmcg(flags: list[str], out: str) -> tuple[float, float, int]:
                cmd = [str(bindir / "datamodel-codegen"), *flags, "--input", spec]
                return measure([*cmd, "--output", str(work / out)], work)

            rounds: list[tuple[tuple[float, float, int], tuple[float, float, int]]] = []
            for r in range(ROUNDS):
                ours = measure(
                    [sys.executable, "-m", "codegen", "generate", "--no-cache", "--specs",
                     str(work / "specs"), "--out", str(work / f"gen{r}"), "--cache-dir",
                     str(work / f"c{r}"), folder, *(["--lenient"] if name in LENIENT else [])],
                    ROOT,
                )  # fmt: skip
                rounds.append((ours, dmcg(ANCHOR_FLAGS, f"anchor{r}")))
            plain = dmcg(DMCG_FLAGS, "dmcg")
            ours_classes = sum(classes(p) for p in (work / "gen0").rglob("models.py"))
            anchor_classes = classes(work / "anchor0")
        ours = median([o for o, _ in rounds])
        anchor = median([a for _, a in rounds])
        ratio = statistics.median(o[0] / a[0] for o, a in rounds)
        cells = [f"{ours[0]:.1f} | {ours[1]:.0f} | {ours[2]} | {ours_classes}"]
        wall, rss, rc = plain
        cells.append(f"{wall:.1f} | {rss:.0f} | {rc} | {ours[0] / wall:.2f}")
        wall, rss, rc = anchor
        cells.append(f"{wall:.1f} | {rss:.0f} | {rc} | {anchor_classes} | {ratio:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def median(runs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    """The run with the median time (its memory and exit code with it; the worst exit code)."""
    ordered = sorted(runs)
    wall, rss, _ = ordered[len(ordered) // 2]
    return wall, rss, max((rc for *_, rc in runs), key=abs)


if __name__ == "__main__":
    main(sys.argv[1:])
