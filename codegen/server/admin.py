"""Test-control routes under /_admin: inspect what arrived, script faults, reset.

Never recorded, never faulted, never authenticated: they are how tests observe the server,
so they must not disturb what they observe.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from codegen.server.ingest import ADMIN_PREFIX, ServerState


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status_code=status, media_type="application/json")


async def _payload(request: Request) -> tuple[Any, Response | None]:
    try:
        return json.loads(await request.body()), None
    except ValueError:
        return None, JSONResponse({"detail": "body must be JSON"}, status_code=422)


def admin_router(state: ServerState) -> APIRouter:
    """The admin routes, bound to one server's state."""
    router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)
    recorder = state.recorder

    @router.get("/stats")
    async def stats() -> Response:
        return _json(recorder.snapshot())

    @router.get("/requests")
    async def requests(
        path: str | None = None,
        operation: str | None = None,
        limit: int | None = None,
        after_id: int = 0,
    ) -> Response:
        rows = recorder.requests(path=path, operation=operation, after_id=after_id, limit=limit)
        return _json({"requests": rows})

    @router.get("/events")
    async def events(operation: str | None = None) -> Response:
        return _json({"events": recorder.events(operation)})

    @router.get("/operations")
    async def operations() -> Response:
        ops = [
            {
                "operation": op.spec.operation_id,
                "method": op.spec.method,
                "path": op.spec.path,
                "auth": op.auth.required,
                "idempotency_field": op.spec.idempotency_field,
                "status": op.response.status,
            }
            for op in state.operations
        ]
        return _json({"operations": ops})

    @router.get("/faults")
    async def get_faults() -> Response:
        return _json(state.faults.describe())

    @router.post("/faults")
    async def set_faults(request: Request) -> Response:
        payload, error = await _payload(request)
        if error is not None:
            return error
        try:
            state.faults.configure(payload)
        except (ValueError, TypeError) as exc:
            return _json({"detail": str(exc)}, 422)
        return _json(state.faults.describe())

    @router.delete("/faults")
    async def clear_faults() -> Response:
        state.faults.clear()
        return _json(state.faults.describe())

    @router.get("/config")
    async def get_config() -> Response:
        accepted = state.tokens.accepted
        return _json({"accepted_tokens": sorted(accepted) if accepted is not None else None})

    @router.post("/config")
    async def set_config(request: Request) -> Response:
        payload, error = await _payload(request)
        if error is not None:
            return error
        if not isinstance(payload, dict):
            return _json({"detail": "expected a JSON object"}, 422)
        if "accepted_tokens" in payload:
            tokens = payload["accepted_tokens"]
            if tokens is not None and not (
                isinstance(tokens, list) and all(isinstance(t, str) for t in tokens)
            ):
                return _json({"detail": "accepted_tokens must be a list of strings or null"}, 422)
            state.tokens.accepted = set(tokens) if tokens is not None else None
        return await get_config()

    @router.post("/reset")
    async def reset() -> Response:
        recorder.reset()
        state.faults.clear()
        state.tokens.accepted = None
        return _json(recorder.snapshot())

    return router
