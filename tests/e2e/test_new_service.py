"""Adding a service is dropping a spec: no other change, a working typed client."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT, add_spec, run_codegen
from tests.e2e.conftest import run_script

NOTES = ROOT / "tests/codegen/specs/notes.yaml"


def run_client(generated: Path, package: str, script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` with the freshly generated package importable (it is not installed)."""
    return run_script(script, generated, import_path=generated / package, timeout=60)


def test_spec_without_extensions_gives_a_blocking_typed_client(
    workspace: Path, start_server
) -> None:
    spec = add_spec(workspace, "notes", NOTES, "v2.yaml")
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    server = start_server(spec)
    proc = run_client(
        workspace / "generated",
        "notes",
        f"""
        import pydantic
        from notes import AcmeNotesClient, AuthError, Note
        from notes.v2 import AcmeNotesClient as V2Client
        assert AcmeNotesClient is V2Client
        client = AcmeNotesClient(base_url={server.url!r}, token="tok")
        note = client.notes.create_note(title="hello", priority="high")
        assert isinstance(note, Note), type(note)
        fetched = client.notes.get_note(note_id="n 1/2", include_body=True)
        assert isinstance(fetched, Note)
        assert isinstance(client.health().status, str)
        try:
            client.notes.create_note(title="")
        except pydantic.ValidationError:
            pass
        else:
            raise SystemExit("empty title accepted")
        anonymous = AcmeNotesClient(base_url={server.url!r})
        try:
            anonymous.notes.create_note(title="x")
        except AuthError as exc:
            assert exc.status == 401
        else:
            raise SystemExit("no AuthError")
        print("OK")
    """,
    )
    assert proc.stdout.strip() == "OK", proc.stdout + proc.stderr
    paths = [(r["method"], r["path"], r["status"]) for r in server.requests()]
    assert ("POST", "/notes", 201) in paths
    assert ("GET", "/notes/n%201%2F2", 200) in paths
    assert ("POST", "/notes", 401) in paths
    assert len(paths) == 4  # the invalid title never left the process


def test_dropped_in_queued_service_delivers(workspace: Path, start_server) -> None:
    """The swarm spec under another folder and package name, with no other change."""
    import yaml

    data = yaml.safe_load((ROOT / "specs/swarm_analytics/v1.yaml").read_text())
    data["info"]["x-ingest"]["package"] = "acme_events"
    spec = workspace / "specs" / "acme_events" / "v1.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    assert run_codegen("generate", cwd=workspace).code == 0
    server = start_server(spec)
    proc = run_client(
        workspace / "generated",
        "acme_events",
        f"""
        from acme_events import AnalyticsClient
        with AnalyticsClient(base_url={server.url!r}, token="tok") as client:
            client.events.onboarding.step(step_id="a", status="started")
            client.logs.write(tag="b")
            assert client.flush(timeout=10)
        print(client.stats().delivered)
    """,
    )
    assert proc.stdout.strip() == "2", proc.stdout + proc.stderr
    assert server.stats()["accepted"] == 2
