"""Reference ingest server: serves any OpenAPI 3.0/3.1 spec for client tests and benchmarks."""

from codegen.server.app import build_app, serve

__all__ = ["build_app", "serve"]
