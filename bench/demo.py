"""`make demo`: the README's swarm-analytics example against a local reference server."""

from __future__ import annotations

import tempfile
from pathlib import Path

from swarm_analytics import AgentMessage, AnalyticsClient

from codegen.testing import RefServer

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        RefServer(ROOT / "specs/swarm_analytics/v1.yaml", Path(tmp) / "requests.db") as server,
    ):
        base_url = server.url
        print(f"reference server for specs/swarm_analytics/v1.yaml on {base_url}\n")

        # One-time bootstrap on first launch (unauthenticated, blocking)
        token = AnalyticsClient.register(base_url=base_url, install_id="install-demo")
        client = AnalyticsClient(base_url=base_url, token=token)

        client.events.app_lifecycle.opened(os="darwin", os_version="25.3.0", app_version="1.2.0")
        client.events.agent.create(id="sess_123", name="Refactor auth", dashboard_id="dash_1")
        client.events.agent.message(
            agent_id="sess_123", seq=0, message=AgentMessage(id="m1", role="user", content="hello")
        )
        client.events.onboarding.step(step_id="connect_provider", status="completed")
        client.events.dashboard.event(dashboard_id="dash_1", action="create")
        client.logs.write(tag="agent", subtag="tool", data={"name": "shell"})
        client.identify.link_email(email="user@example.com")

        # On shutdown
        client.events.app_lifecycle.closed()
        delivered = client.flush(timeout=2.0)
        client.close()

        for request in server.requests():
            line = f"{request['method']} {request['path']}  {request['raw_body']}"
            print(f"{request['status']}  {line}")
        print(f"\nflush() -> {delivered}; client {client.stats()}")
        print(f"server {server.stats()}")


if __name__ == "__main__":
    main()
