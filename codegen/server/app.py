"""Assemble the reference server: a FastAPI app with admin routes and one catch-all route.

The spec is compiled once here (validators, response plans, path matcher); the catch-all
ASGI endpoint then serves every operation without per-request routing work in FastAPI.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from codegen.server.admin import admin_router
from codegen.server.auth import AuthRule, TokenPolicy
from codegen.server.batches import share_item_keys
from codegen.server.faults import FaultPlan
from codegen.server.ingest import DropFilter, IngestMiddleware, Operation, ServerState
from codegen.server.matching import PathMatcher
from codegen.server.recorder import Recorder
from codegen.server.responses import ResponsePlan
from codegen.server.spec import iter_operations, load_spec
from codegen.server.validation import SchemaValidator, make_registry


def compile_operations(data: dict[str, Any]) -> list[Operation]:
    """Compile every operation of a loaded spec (validators, auth, response plan)."""
    registry = make_registry(data)
    schemes = (data.get("components") or {}).get("securitySchemes") or {}
    specs = list(iter_operations(data))
    batches = [spec.batch for spec in specs]
    share_item_keys(data, batches, [spec.operation_id for spec in specs])
    specs = [replace(spec, batch=batch) for spec, batch in zip(specs, batches, strict=True)]
    return [
        Operation(
            spec=spec,
            auth=AuthRule(spec.security, schemes),
            validator=SchemaValidator(registry, spec.body_pointer) if spec.body_pointer else None,
            response=ResponsePlan(data, registry, spec),
        )
        for spec in specs
    ]


def _temp_db() -> Path:
    folder = tempfile.mkdtemp(prefix="codegen-server-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder) / "server.db"


def build_app(
    spec_path: Path, db_path: Path | None = None, *, secret: str | None = None
) -> FastAPI:
    """A FastAPI app serving every operation of `spec_path`, recording into `db_path`.

    With `secret`, items whose schema declares `x-ingest: {sign: ...}` are verified with it:
    a bad signature fails that item (207 with the error listed, or 401), as the real service does.
    """
    data = load_spec(Path(spec_path))
    operations = compile_operations(data)
    servers = data.get("servers") or [{}]
    server_url = str(servers[0].get("url", "")) if isinstance(servers[0], dict) else ""
    matcher = PathMatcher([(op.spec.method, op.spec.path, op) for op in operations], server_url)
    recorder = Recorder(Path(db_path) if db_path is not None else _temp_db())
    state = ServerState(operations, matcher, recorder, FaultPlan(), TokenPolicy(), secret)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        recorder.close()

    title = str((data.get("info") or {}).get("title", "reference server"))
    app = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.server = state
    app.include_router(admin_router(state))
    app.add_middleware(IngestMiddleware, state=state)
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DropFilter) for f in log.filters):
        log.addFilter(DropFilter())
    return app


def serve(
    spec_path: Path,
    host: str,
    port: int,
    db_path: Path | None = None,
    secret: str | None = None,
) -> None:
    """Run the reference server in the foreground until interrupted."""
    app = build_app(Path(spec_path), db_path, secret=secret)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
