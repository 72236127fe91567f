"""Generation is deterministic, stable under reordering, and `--check` catches every drift."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import yaml

from tests.conftest import ROOT, SPECS, add_spec, run_codegen


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def shuffled(node: object, rng: random.Random) -> object:
    """The same document with every mapping's keys in another order."""
    if isinstance(node, dict):
        items = list(node.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(node, list):
        return [shuffled(v, rng) for v in node]
    return node


def test_committed_output_is_what_the_specs_produce() -> None:
    result = run_codegen("generate", "--check", "--no-cache", cwd=ROOT)
    assert result.code == 0, result.stdout + result.stderr


def test_two_runs_identical_and_reordering_renames_nothing(swarm_workspace: Path) -> None:
    assert run_codegen("generate", "--no-cache", cwd=swarm_workspace).code == 0
    first = tree(swarm_workspace / "generated")
    assert run_codegen("generate", "--no-cache", cwd=swarm_workspace).code == 0
    assert tree(swarm_workspace / "generated") == first

    spec_path = swarm_workspace / "specs" / "swarm_analytics" / "v1.yaml"
    data = yaml.safe_load(spec_path.read_text())
    reordered = shuffled(data, random.Random(7))
    spec_path.write_text(yaml.safe_dump(reordered, sort_keys=False))
    assert run_codegen("generate", cwd=swarm_workspace).code == 0
    second = tree(swarm_workspace / "generated")
    assert set(second) == set(first)
    python = [name for name in first if name.endswith(".py")]
    assert [names_in(first[n]) for n in python] == [names_in(second[n]) for n in python]


def names_in(source: bytes) -> list[str]:
    """Every class, function, parameter, attribute and constant a user could refer to."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            found.add(node.name)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.add(node.target.id)
    return sorted(found)


def test_check_fails_on_hand_edit_and_prints_diff(swarm_workspace: Path) -> None:
    assert run_codegen("generate", cwd=swarm_workspace).code == 0
    client = swarm_workspace / "generated/swarm_analytics/swarm_analytics/v1/client.py"
    client.write_text(client.read_text().replace("def step(", "def stepp("))
    result = run_codegen("generate", "--check", cwd=swarm_workspace)
    assert result.code == 1
    assert "--- a/generated/swarm_analytics/swarm_analytics/v1/client.py" in result.stdout
    assert "-    def stepp(" in result.stdout and "+    def step(" in result.stdout
    # --check wrote nothing
    assert "def stepp(" in client.read_text()


def test_check_reports_added_and_stale_files(swarm_workspace: Path) -> None:
    assert run_codegen("generate", cwd=swarm_workspace).code == 0
    stray = swarm_workspace / "generated/swarm_analytics/swarm_analytics/v1/extra.py"
    stray.write_text("x = 1\n")
    stale_pkg = swarm_workspace / "generated/old_service/old_service/__init__.py"
    stale_pkg.parent.mkdir(parents=True)
    stale_pkg.write_text("")
    result = run_codegen("generate", "--check", cwd=swarm_workspace)
    assert result.code == 1
    assert "a/generated/swarm_analytics/swarm_analytics/v1/extra.py" in result.stdout
    assert "a/generated/old_service/old_service/__init__.py" in result.stdout
    assert run_codegen("generate", cwd=swarm_workspace).code == 0
    assert not stray.exists() and not stale_pkg.exists()
    assert run_codegen("generate", "--check", cwd=swarm_workspace).code == 0


def test_removing_an_operation_removes_its_method(swarm_workspace: Path) -> None:
    assert run_codegen("generate", cwd=swarm_workspace).code == 0
    spec_path = swarm_workspace / "specs" / "swarm_analytics" / "v1.yaml"
    data = yaml.safe_load(spec_path.read_text())
    del data["paths"]["/public/events/dashboard/event"]
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))

    stale = run_codegen("generate", "--check", cwd=swarm_workspace)
    assert stale.code == 1
    assert "-class EventsDashboardNamespace:" in stale.stdout

    assert run_codegen("generate", cwd=swarm_workspace).code == 0
    client = (
        swarm_workspace / "generated/swarm_analytics/swarm_analytics/v1/client.py"
    ).read_text()
    assert "EventsDashboardNamespace" not in client
    assert "self.onboarding = EventsOnboardingNamespace(client)" in client


def test_cached_output_equals_fresh_output(swarm_workspace: Path) -> None:
    assert run_codegen("generate", "--no-cache", cwd=swarm_workspace).code == 0
    fresh = tree(swarm_workspace / "generated")
    result = run_codegen("generate", cwd=swarm_workspace)
    assert "cached" in result.stdout
    assert tree(swarm_workspace / "generated") == fresh


def test_header_names_spec_and_hash(swarm_workspace: Path) -> None:
    import hashlib

    assert run_codegen("generate", cwd=swarm_workspace).code == 0
    digest = hashlib.sha256((SPECS / "swarm_analytics" / "v1.yaml").read_bytes()).hexdigest()
    for path in (swarm_workspace / "generated").rglob("*.py"):
        head = path.read_text().splitlines()[:2]
        assert f"from specs/swarm_analytics/v1.yaml (sha256 {digest})" in head[0], path
        assert "Do not edit" in head[1]


def test_majors_are_importable_side_by_side(swarm_workspace: Path) -> None:
    spec = yaml.safe_load((SPECS / "swarm_analytics" / "v1.yaml").read_text())
    spec["info"]["version"] = "2.0.0"
    del spec["paths"]["/public/logs"]
    v2 = swarm_workspace / "specs" / "swarm_analytics" / "v2.yaml"
    v2.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert run_codegen("generate", cwd=swarm_workspace).code == 0
    pkg = swarm_workspace / "generated/swarm_analytics/swarm_analytics"
    assert (pkg / "v1" / "client.py").is_file() and (pkg / "v2" / "client.py").is_file()
    init = (pkg / "__init__.py").read_text()
    assert "from .v2 import (" in init and '__version__ = "2.0.0"' not in init
    assert "LogsNamespace" in (pkg / "v1" / "client.py").read_text()
    assert "LogsNamespace" not in (pkg / "v2" / "client.py").read_text()
    pyproject = (swarm_workspace / "generated/swarm_analytics/pyproject.toml").read_text()
    assert 'version = "2.0.0"' in pyproject


def test_generate_one_service_by_name(workspace: Path) -> None:
    add_spec(workspace, "swarm_analytics", SPECS / "swarm_analytics" / "v1.yaml")
    add_spec(workspace, "notes", ROOT / "tests/codegen/specs/notes.yaml", "v2.yaml")
    result = run_codegen("generate", "notes", cwd=workspace)
    assert result.code == 0, result.stderr
    assert "notes: ok" in result.stdout and "swarm_analytics" not in result.stdout
    assert (workspace / "generated/notes/notes/v2/client.py").is_file()
    assert not (workspace / "generated/swarm_analytics").exists()
    unknown = run_codegen("generate", "nope", cwd=workspace)
    assert unknown.code == 2 and "no spec folder for nope" in unknown.stderr
