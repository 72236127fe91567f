"""Hand-written extension modules beside a spec: copied verbatim, re-exported, drift-checked."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SPECS, add_spec, run_codegen

HELPER = '''"""A thin helper on top of the generated client."""

from __future__ import annotations

from .v1 import AnalyticsClient

__all__ = ["opened_darwin"]


def opened_darwin(client: AnalyticsClient, version: str) -> None:
    client.events.app_lifecycle.opened(os="darwin", os_version=version, app_version="1")
'''


def with_helper(workspace: Path, source: str = HELPER, name: str = "helpers.py") -> Path:
    add_spec(workspace, "swarm_analytics", SPECS / "swarm_analytics" / "v1.yaml")
    module = workspace / "specs" / "swarm_analytics" / "python" / name
    module.parent.mkdir()
    module.write_text(source)
    return module


def test_module_is_copied_verbatim_and_reexported(workspace: Path) -> None:
    with_helper(workspace)
    assert run_codegen("generate", cwd=workspace).code == 0
    package = workspace / "generated" / "swarm_analytics" / "swarm_analytics"
    assert (package / "helpers.py").read_text() == HELPER
    init = (package / "__init__.py").read_text()
    assert "from .helpers import (\n    opened_darwin,\n)" in init
    assert '"opened_darwin",' in init

    (package / "helpers.py").write_text(HELPER.replace("darwin", "linux"))
    drift = run_codegen("generate", "--check", cwd=workspace)
    assert (
        drift.code == 1 and "a/generated/swarm_analytics/swarm_analytics/helpers.py" in drift.stdout
    )


def test_broken_or_clashing_modules_fail_clearly(workspace: Path) -> None:
    module = with_helper(workspace, "def broken(:\n")
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 2 and "helpers.py: not valid Python (line 1)" in result.stderr
    module.write_text('__all__ = ["AnalyticsClient"]\nAnalyticsClient = 1\n')
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 2 and "export names the generated client has: ['AnalyticsClient']" in (
        result.stderr
    )
    assert not (workspace / "generated" / "swarm_analytics").exists()


def test_replacing_a_generated_name_must_be_declared(workspace: Path) -> None:
    """`__replaces__` lets a module stand in for a generated name (the package exports the
    module's; `<package>.v1` keeps the generated one); replacing a name the client lacks fails."""
    module = with_helper(
        workspace,
        '__all__ = ["AnalyticsClient"]\n__replaces__ = ["AnalyticsClient"]\n'
        "from .v1 import AnalyticsClient as _Generated\n\n\n"
        "class AnalyticsClient(_Generated):\n    pass\n",
    )
    assert run_codegen("generate", cwd=workspace).code == 0
    init = (workspace / "generated/swarm_analytics/swarm_analytics/__init__.py").read_text()
    assert "from .helpers import (\n    AnalyticsClient,\n)" in init
    v1_names = init.split("from .v1 import (")[1].split(")")[0]
    assert "AnalyticsClient" not in v1_names and "AnalyticsError" in v1_names

    module.write_text('__all__ = ["Nope"]\n__replaces__ = ["Nope"]\nNope = 1\n')
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 2 and "__replaces__ names ['Nope'], which the generated client" in (
        result.stderr
    )
