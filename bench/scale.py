"""Time and peak memory of our generator vs datamodel-code-generator (models only) on big specs.

    .venv/bin/python bench/scale.py [stripe-npm github-npm ...]

Each run is a fresh process measured with `/usr/bin/time -v` when available (max RSS of the
largest process), else wall time only. Figures are printed, never asserted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.corpus.harness import CORPUS, ROOT, main_file, stage

DMCG_FLAGS = [
    "--input-file-type", "openapi", "--output-model-type", "pydantic_v2.BaseModel",
    "--enum-field-as-literal", "all", "--use-annotated", "--field-constraints",
    "--use-standard-collections", "--use-union-operator", "--target-python-version", "3.11",
    "--collapse-root-models", "--disable-timestamp", "--use-double-quotes",
    "--formatters", "ruff-format",
]  # fmt: skip


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
    print("| spec | ours s | ours MB | rc | dmcg s | dmcg MB | rc | ratio |")
    print("|---|---:|---:|---|---:|---:|---|---:|")
    for name in names or ["stripe-npm", "github-npm"]:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            folder, _ = stage(CORPUS / name, work / "specs")
            ours = measure(
                [sys.executable, "-m", "codegen", "generate", "--no-cache", "--specs",
                 str(work / "specs"), "--out", str(work / "gen"), "--cache-dir",
                 str(work / "c"), folder],
                ROOT,
            )  # fmt: skip
            dmcg = measure(
                [str(bindir / "datamodel-codegen"), *DMCG_FLAGS, "--input",
                 str(main_file(CORPUS / name)), "--output", str(work / "dmcg")],
                work,
            )  # fmt: skip
        print(
            f"| {name} | {ours[0]:.1f} | {ours[1]:.0f} | {ours[2]} | {dmcg[0]:.1f} | "
            f"{dmcg[1]:.0f} | {dmcg[2]} | {ours[0] / dmcg[0]:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
